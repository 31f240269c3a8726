/**
 * Go's error texts for Node fs errors, where etcd and etcdctl print a Go error:
 * syscall.Errno's strerror text per errno code, and *os.PathError's
 * `<op> <path>: <text>` (e.g. `open /x/ca.crt: no such file or directory`).
 */

/** Go's strerror texts (syscall.Errno.Error()) for the errno codes file operations meet. */
export const GO_ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error',
  EROFS: 'read-only file system',
  EEXIST: 'file exists',
  ENOSPC: 'no space left on device',
  EXDEV: 'invalid cross-device link',
  EINVAL: 'invalid argument',
  EBADF: 'bad file descriptor',
};

/**
 * Go's `*os.PathError` text, `<op> <path>: <strerror>`, for a Node fs error `e`;
 * a code without a Go text keeps Node's message after the prefix.
 */
export function goPathError(op: string, path: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const text = (err.code && GO_ERRNO_TEXT[err.code]) ?? err.message;
  return `${op} ${path}: ${text}`;
}
