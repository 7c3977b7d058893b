//! One attempt's request, rendered from the step's templates: the path
//! (variable values percent-encoded per segment), the body, the headers
//! (identity, op id, idempotency key, cookies, the step's templated ones).

use super::{User, wall_now};
use crate::engine::step_io::AttemptHelpers;
use crate::scenario::template::Escape;
use crate::scenario::{
    BUILTIN_VARS, Step, VAR_EVENT, VAR_IDEMPOTENCY_KEY, VAR_ITERATION, VAR_QUANTITY, VAR_USER,
    VAR_ZONE,
};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

impl User<'_> {
    /// Render one attempt's path, body and headers (sync, so none of it
    /// stays in the operation's future); `attempt` is its 1-based number in
    /// the operation, sent in the policy's `attempt_header`. `None` when a
    /// templated header rendered to something that is not a header value.
    pub(super) fn request(
        &self,
        step: &Step,
        seq: u32,
        key_seq: u32,
        attempt: u32,
    ) -> Option<(String, Option<Bytes>, HeaderMap)> {
        let ctx = self.ctx;
        // Identity is derived per attempt too: 100k waiting users should not
        // each keep their id and bearer header alive.
        let (user_id, auth) = ctx.identity(self.arrival.index);
        let row = ctx.user_values(self.arrival.index);
        let iteration = self.iteration.to_string();
        let op_id = self.op_id(seq);
        // The operation's key: the same on a retry under `key_reuse =
        // "same"` (`key_seq` stays), a new one per attempt under "fresh".
        let uses_key =
            |t: &crate::scenario::template::Template| t.vars().any(|v| v == VAR_IDEMPOTENCY_KEY);
        let key = if step.idempotent
            || step.body.as_ref().is_some_and(uses_key)
            || uses_key(&step.path)
            || step.headers.iter().any(|(_, h)| uses_key(h))
        {
            format!("{op_id}.k{key_seq}")
        } else {
            String::new()
        };
        let first_capture = BUILTIN_VARS.len() + ctx.journey.user_vars;
        let lookup = |id: usize| -> &str {
            match id {
                VAR_USER => &user_id,
                VAR_EVENT => &ctx.journey.event,
                VAR_ZONE => &ctx.journey.zones[self.zone as usize],
                VAR_QUANTITY => &ctx.quantity,
                VAR_ITERATION => &iteration,
                VAR_IDEMPOTENCY_KEY => &key,
                _ if id < first_capture => {
                    row.get(id - BUILTIN_VARS.len()).map_or("", |v| v.expose())
                }
                _ => self
                    .captures
                    .get(id - first_capture)
                    .map_or("", String::as_str),
            }
        };
        // Seeded per operation and per run: a retry renders the same
        // `${uuid}`, another run of the same file a different one.
        let mut helpers = AttemptHelpers::new(
            ctx.seed
                ^ ctx.nonce
                ^ self.arrival.index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ u64::from(seq),
            wall_now(ctx)
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        );
        let mut path = String::with_capacity(step.path.source().len() + 16);
        step.path
            .render_into(&mut path, lookup, &mut helpers, Escape::Path);
        let body = step.body.as_ref().map(|t| {
            let mut b = String::with_capacity(t.source().len() + 16);
            t.render_into(&mut b, lookup, &mut helpers, Escape::None);
            Bytes::from(b)
        });
        let mut headers = self.headers(step, auth, &op_id, &key, attempt);
        if let Some(c) = self.cookies.header() {
            headers.insert(http::header::COOKIE, c);
        }
        let mut value = String::new();
        for (name, t) in &step.headers {
            value.clear();
            t.render_into(&mut value, lookup, &mut helpers, Escape::None);
            let mut v = HeaderValue::from_str(&value).ok()?;
            // A value made of the users CSV or of captures may carry a token
            // or a password: never shown. Generated ones (`${uuid}`, the
            // idempotency key, the user, event and zone) are shown as sent,
            // so a request can be found in the target's logs.
            v.set_sensitive(t.vars().any(|id| id >= BUILTIN_VARS.len()));
            headers.insert(name.clone(), v);
        }
        Some((path, body, headers))
    }

    /// Headers of one attempt. The idempotency key is derived from the op id
    /// and the key generation, so nothing but a counter is kept between attempts.
    /// The policy's attempt header, when it names one, carries `attempt`.
    fn headers(
        &self,
        step: &Step,
        auth: Option<HeaderValue>,
        op_id: &str,
        key: &str,
        attempt: u32,
    ) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(5 + step.headers.len());
        if let Some(auth) = auth {
            headers.insert(http::header::AUTHORIZATION, auth);
        }
        if let Ok(v) = HeaderValue::from_str(op_id) {
            headers.insert("x-stampede-op", v);
        }
        if step.idempotent
            && let Ok(k) = HeaderValue::from_str(key)
        {
            headers.insert(self.ctx.idempotency_header.clone(), k);
        }
        if let Some(h) = &self.fleet.policy.attempt_header {
            headers.insert(h.0.clone(), HeaderValue::from(attempt));
        }
        headers
    }
}
