//! The send path: the attempts/s cap, a request built and sent (whole, or
//! opened as an event stream), the exchange on a connection permit.

use super::*;

impl HttpClient {
    /// Wait until the attempts/s cap lets one more attempt go. Called before
    /// an attempt's clock starts: the wait is the generator's, not the target's.
    ///
    /// The wait is tokio's timer, not governor's `until_ready`: that one
    /// sleeps on `futures_timer`, whose global thread is woken by a syscall
    /// for every delay (a tenth of the generator's CPU at the 20,000/s cap
    /// in a `perf` profile of a closed model). Boxed: only a user held back
    /// carries the sleep.
    pub async fn pace(&self) {
        let Some(cap) = &self.cap else {
            return;
        };
        let mut held = false;
        while let Err(not_until) = cap.limiter.check() {
            if !held {
                cap.throttled.fetch_add(1, Relaxed);
                held = true;
            }
            let wait = not_until.wait_time_from(governor::clock::Clock::now(cap.limiter.clock()));
            Box::pin(tokio::time::sleep(wait)).await;
        }
    }

    /// One attempt. The timeout covers waiting for a connection slot, the
    /// exchange and reading the body, as a browser's or SDK's timeout would.
    pub async fn send(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Response, Failure> {
        let queued = QueueWait::default();
        self.send_queued(method, path, headers, body, timeout, &queued)
            .await
    }

    /// [`Self::send`], and `queued` learns when the request could be written.
    pub async fn send_queued(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        timeout: Duration,
        queued: &QueueWait,
    ) -> Result<Response, Failure> {
        let exchange = self.exchange(method, path, headers, body, queued);
        self.within(Instant::now() + timeout, exchange).await
    }

    /// Like [`Self::send`], but a 2xx `text/event-stream` answer is handed
    /// back as a stream. `timeout` bounds the wait for a connection slot
    /// and the answer's head (and the whole body when it is an
    /// [`Opened::Answer`]); the stream itself has no timeout (its reader
    /// races [`EventStream::next_event`] with its own deadline). Adds
    /// `Accept: text/event-stream` unless `headers` already have an Accept
    /// (the target's default headers come after it). The attempts/s cap
    /// ([`Self::pace`], called by the sender) and the connection permits
    /// apply as for `send`, as does the one resend of a GET on a kept-alive
    /// connection the server had closed; the stream holds its permit until
    /// dropped, and dropping it drops the connection (its body was not read
    /// to the end, so it never goes back to the pool).
    pub async fn open_stream(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Opened, Failure> {
        let queued = QueueWait::default();
        self.open_stream_queued(method, path, headers, body, timeout, &queued)
            .await
    }

    /// [`Self::open_stream`], and `queued` learns when the request could be written.
    pub async fn open_stream_queued(
        &self,
        method: &Method,
        path: &str,
        mut headers: HeaderMap,
        body: Option<Bytes>,
        timeout: Duration,
        queued: &QueueWait,
    ) -> Result<Opened, Failure> {
        if !headers.contains_key(http::header::ACCEPT) {
            headers.insert(
                http::header::ACCEPT,
                HeaderValue::from_static("text/event-stream"),
            );
        }
        let deadline = Instant::now() + timeout;
        let open = async {
            let permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Failure::Net(NetError::Other))?;
            Box::pin(self.open_on_permit(permit, method, path, headers, body, queued)).await
        };
        self.within(deadline, open).await
    }

    /// `work`, or the client's own timeout (counted) at `deadline`.
    async fn within<T>(
        &self,
        deadline: Instant,
        work: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout_at(deadline, work).await {
            Ok(r) => r,
            Err(_) => Err(self.timed_out()),
        }
    }

    /// The client's own timeout, counted.
    fn timed_out(&self) -> Failure {
        self.stats.timed_out();
        Failure::Timeout
    }

    /// The request of one attempt, as [`Self::send`] sends it: the path
    /// under the target's base path, the attempt's headers over the target's
    /// defaults (merged into the attempt's own map, no second map), a JSON
    /// content type for a body, and Host for HTTP/1 (HTTP/2 takes scheme and
    /// authority as pseudo-headers instead). Through a forwarding proxy the
    /// URI is absolute (`http://host:port/path`) and the proxy's credentials
    /// go in `Proxy-Authorization`. Public for the hot-path bench.
    pub fn build_request(
        &self,
        method: &Method,
        path: &str,
        mut headers: HeaderMap,
        body: Option<Bytes>,
        h2: bool,
    ) -> Result<Request<Full<Bytes>>, Failure> {
        let pq = if self.base_path.is_empty() {
            http::uri::PathAndQuery::try_from(path)
        } else {
            http::uri::PathAndQuery::try_from(format!("{}{}", self.base_path, path))
        }
        .map_err(|_| Failure::Net(NetError::Other))?;
        let mut parts = http::uri::Parts::default();
        if h2 || self.forward.is_some() {
            parts.scheme = Some(self.scheme.clone());
            parts.authority = Some(self.authority.clone());
        }
        parts.path_and_query = Some(pq);
        let uri = Uri::from_parts(parts).map_err(|_| Failure::Net(NetError::Other))?;
        for (k, v) in self.defaults.iter() {
            if !headers.contains_key(k) {
                headers.insert(k, v.clone());
            }
        }
        if body.is_some() && !headers.contains_key(http::header::CONTENT_TYPE) {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if !h2 && !headers.contains_key(http::header::HOST) {
            headers.insert(http::header::HOST, self.host.clone());
        }
        if let Some(Some(auth)) = &self.forward {
            headers.insert(http::header::PROXY_AUTHORIZATION, auth.clone());
        }
        let mut req = Request::new(Full::new(body.unwrap_or_default()));
        *req.method_mut() = method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        Ok(req)
    }

    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        queued: &QueueWait,
    ) -> Result<Response, Failure> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Failure::Net(NetError::Other))?;
        // Boxed: the exchange (checkout, hyper's send, reading the body) is
        // large, and a request waiting for its permit (thousands of them
        // when the target is slow) should not reserve its space.
        Box::pin(self.exchange_on_permit(method, path, headers, body, queued)).await
    }

    async fn exchange_on_permit(
        &self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        queued: &QueueWait,
    ) -> Result<Response, Failure> {
        let (head, rest) = self
            .answer_head(method, path, headers, body, queued)
            .await?;
        self.read_whole(head, rest).await
    }

    async fn open_on_permit(
        &self,
        permit: OwnedSemaphorePermit,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        queued: &QueueWait,
    ) -> Result<Opened, Failure> {
        let (head, rest) = self
            .answer_head(method, path, headers, body, queued)
            .await?;
        if !(200..300).contains(&head.status) || !head.event_stream {
            return Ok(Opened::Answer(self.read_whole(head, rest).await?));
        }
        if let (Some(t), Some(h)) = (&self.trace, &head.headers) {
            t.response(head.status, h, b"");
        }
        let body = match rest {
            Rest::H1(c) => {
                let pieces = h1::Pieces::of(&head);
                Source::H1(c, pieces)
            }
            Rest::H2(body, _slot) => Source::H2 { body, _slot },
        };
        Ok(Opened::Stream(EventStream(Box::new(Streaming {
            status: head.status,
            body,
            parser: sse::Parser::new(),
            pending: Vec::new().into_iter(),
            bytes: 0,
            end: None,
            stats: self.stats.clone(),
            trace: self.trace.clone(),
            _permit: permit,
        }))))
    }
}
