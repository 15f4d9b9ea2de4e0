// What a TLS connection's peer presented, judged once per connection instead of once per
// request: the apiserver and the aggregator send many requests over one keep-alive
// connection, and reading the peer's certificate builds a fresh JS object each time.
//
// A connection's peer is who it was at the handshake only while it cannot renegotiate
// (TLS 1.2 lets a client present another certificate mid-connection; TLS 1.3 has no
// renegotiation). So the first judgement of a connection also refuses renegotiation on
// it from then on: a remembered answer can never outlive the certificate it was drawn
// from. The servers refuse it at the handshake too (run.ts, audit/server.ts); this does
// not rely on that.
import type { TLSSocket } from 'node:tls';

/** `judge` applied once per connection; later calls on the same socket return its first answer. */
export function perConnection<T>(judge: (socket: TLSSocket) => T): (socket: TLSSocket) => T {
  const answers = new WeakMap<TLSSocket, T>();
  return (socket) => {
    if (answers.has(socket)) return answers.get(socket) as T;
    socket.disableRenegotiation();
    const answer = judge(socket);
    answers.set(socket, answer);
    return answer;
  };
}
