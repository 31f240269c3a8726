/**
 * @module server/etcdserver/api/v3rpc/transport/unary
 * A unary call (grpc-go server.go processUnaryRPC): read one request message,
 * run the handler, send one response and the status. No EventEmitter, timer
 * or AbortController is made for it unless asked for (deadline header,
 * `signal`).
 *
 * A client that half-closes without a whole message gets Unknown "EOF"
 * (nothing sent) or Unknown "unexpected EOF" (cut short), as grpc-go's
 * status.Convert(io.EOF / io.ErrUnexpectedEOF).
 */
import { ServerCall, type CallStream } from './call.js';
import type { RequestHeaders } from './http2.js';
import { Code, type StatusObject } from '../../../../../util/grpc/codes.js';
import { MessageDecoder } from '../../../../../util/grpc/message.js';
import type { UnaryMethod } from './method.js';
import { STATUS_OK, statusUnmarshalError } from './status.js';

const STATUS_EOF: StatusObject = Object.freeze({ code: Code.UNKNOWN, details: 'EOF' });
const STATUS_UNEXPECTED_EOF: StatusObject = Object.freeze({ code: Code.UNKNOWN, details: 'unexpected EOF' });

/** One unary call; see the module doc. */
export class ServerUnaryCall<Req, Resp> extends ServerCall {
  private readonly decoder: MessageDecoder;
  private received = false;

  /** @param maxRecvBytes largest request message accepted, bytes */
  constructor(
    stream: CallStream,
    headers: RequestHeaders,
    path: string,
    private readonly method: UnaryMethod<Req, Resp>,
    maxRecvBytes: number,
  ) {
    super(stream, headers, path);
    this.decoder = new MessageDecoder(maxRecvBytes, this);
  }

  /** Answers with `resp` and status OK (ignored once the call is over). */
  sendResponse(resp: Resp): void {
    if (this.finished) return;
    this.sendUnary(this.method.encode(resp), STATUS_OK);
  }

  /** Answers with the error status `st` (ignored once the call is over). */
  sendError(st: StatusObject): void {
    this.sendStatus(st);
  }

  onData(chunk: Buffer): void {
    if (!this.received && !this.finished) this.decoder.push(chunk);
  }

  onMessage(msg: Uint8Array): void {
    if (this.received) return; // grpc-go reads one message; extra ones are never read
    this.received = true;
    let req: Req;
    try {
      req = this.method.decode(msg);
    } catch (e) {
      this.sendStatus(statusUnmarshalError(e));
      return;
    }
    try {
      this.method.handler(this, req, msg.length);
    } catch (e) {
      this.sendStatus({ code: Code.UNKNOWN, details: e instanceof Error ? e.message : String(e) });
    }
  }

  onFrameError(st: StatusObject): void {
    this.sendStatus(st);
  }

  onEnd(): void {
    this.remoteEnded = true;
    if (!this.received && !this.finished) this.sendStatus(this.decoder.partial ? STATUS_UNEXPECTED_EOF : STATUS_EOF);
  }

  protected onCancel(): void {}
  protected onClose(): void {}
}
