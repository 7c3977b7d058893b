//! Reading an answer: its head (an idempotent request resent once on a
//! connection the server had closed), then its body whole.

use super::*;

impl HttpClient {
    /// Write the request on a connection from the pool and wait for the
    /// answer's head; its body is still to be read (on the HTTP/1
    /// connection, or in hyper's HTTP/2 body). An idempotent request whose
    /// kept-alive connection the server had closed is written once more on
    /// a new one (counted, and said in the report's notes). `queued` learns
    /// when the request could be written (over HTTP/2, once it has a stream).
    pub(super) async fn answer_head(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        queued: &QueueWait,
    ) -> Result<(Head, Rest), Failure> {
        let (conn, reused) = self
            .pool
            .checkout()
            .await
            .map_err(|e| self.connect_failure(&e))?;
        // Only `--trace` keeps a handle on the body (a reference count).
        let traced_body = self
            .trace
            .as_ref()
            .map(|_| body.clone().unwrap_or_default());
        let req = self.build_request(method, path, headers, body, conn.is_h2())?;
        if let (Some(t), Some(b)) = (&self.trace, &traced_body) {
            // The full URL, whatever form the request line takes.
            let full = Uri::builder()
                .scheme(self.scheme.clone())
                .authority(self.authority.clone())
                .path_and_query(req.uri().path_and_query().map_or("/", |p| p.as_str()))
                .build()
                .unwrap_or_default();
            t.request(method, &full, req.headers(), b);
        }
        let traced = self.trace.is_some();
        match conn {
            Conn::H1(mut c) => {
                let wire = h1::Wire::new(req);
                queued.ready();
                let head = match c.send(&wire, traced).await {
                    Ok(head) => head,
                    // The server closed the kept-alive connection as the
                    // request went out: once more, on a new one.
                    Err(e) if reused && wire.idempotent && c.is_stale(&e) => {
                        self.stats.resent();
                        let Conn::H1(fresh) = self
                            .pool
                            .fresh()
                            .await
                            .map_err(|e| self.connect_failure(&e))?
                        else {
                            return Err(self.transport_failure(&e));
                        };
                        c = fresh;
                        c.send(&wire, traced)
                            .await
                            .map_err(|e| self.transport_failure(&e))?
                    }
                    Err(e) => return Err(self.transport_failure(&e)),
                };
                self.stats.answered();
                if head.simulator {
                    self.stats.simulator_answered();
                }
                Ok((head, Rest::H1(c)))
            }
            Conn::H2((mut s, slots)) => {
                // `None`: the connection ended; hyper says how.
                let slot = slots.acquire().await;
                queued.ready();
                let resp = s
                    .send_request(req)
                    .await
                    .map_err(|e| self.transport_failure(&e))?;
                self.stats.answered();
                let head = Head::from_map(resp.status().as_u16(), resp.headers(), traced);
                if head.simulator {
                    self.stats.simulator_answered();
                }
                Ok((head, Rest::H2(resp.into_body(), slot)))
            }
        }
    }

    /// The rest of an answer read whole (at most [`BODY_LIMIT`]): an
    /// HTTP/1 connection is idle again and goes back to the pool before
    /// the permit goes; `--trace` shows the answer.
    pub(super) async fn read_whole(&self, head: Head, rest: Rest) -> Result<Response, Failure> {
        let body = match rest {
            Rest::H1(mut c) => {
                let body = c
                    .body(&head)
                    .await
                    .map_err(|e| self.transport_failure(&e))?;
                self.pool.checkin(Conn::H1(c));
                body
            }
            // The stream's slot goes once its body was read (or failed).
            Rest::H2(b, _slot) => Limited::new(b, BODY_LIMIT)
                .collect()
                .await
                .map_err(|e| self.transport_failure(e.as_ref()))?
                .to_bytes(),
        };
        if let (Some(t), Some(h)) = (&self.trace, &head.headers) {
            t.response(head.status, h, &body);
        }
        let Head {
            status,
            retry_after,
            pushback,
            rate_limit,
            set_cookies,
            ..
        } = head;
        Ok(Response {
            status,
            retry_after,
            pushback,
            rate_limit,
            body,
            set_cookies,
        })
    }
}

/// An answer's body once its head has arrived.
pub(super) enum Rest {
    /// On the connection.
    H1(h1::H1),
    /// On its HTTP/2 stream, which holds a stream slot until it is dropped.
    H2(hyper::body::Incoming, Option<h2slots::Slot>),
}
