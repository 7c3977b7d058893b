//! The Booking Rush profile's tokens: HS256 JWTs (HMAC-SHA256 by ring) for
//! access and refresh, and signed queue passes. The key is derived from the
//! simulator's seed, so tokens survive a reset (a long-lived `stampede
//! serve` keeps its users logged in).
//!
//! `exp` and `iat` are whole seconds as in any JWT; an extra `exp_ms` claim
//! carries the exact expiry, which the simulator checks, so a token lives
//! exactly its TTL (clients ignore claims they do not know).

use super::body::Obj;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::time::Instant;

/// The Unix time the API writes (bodies, tokens, `X-RateLimit-Reset`): the
/// wall clock at start plus tokio time elapsed since, so a test on paused
/// time moves both.
pub struct Clock {
    t0: Instant,
    unix0_ms: u64,
}

impl Clock {
    pub fn new() -> Self {
        let unix0_ms = crate::clock::wall_now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            t0: Instant::now(),
            unix0_ms,
        }
    }

    pub fn unix_ms_at(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.t0).as_millis();
        self.unix0_ms
            .saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
    }

    pub fn unix_ms(&self) -> u64 {
        self.unix_ms_at(Instant::now())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a token was refused: the gateway's code and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenError {
    pub code: &'static str,
    pub message: &'static str,
}

pub const INVALID_TOKEN: TokenError = TokenError {
    code: "INVALID_TOKEN",
    message: "Invalid or malformed token",
};
pub const TOKEN_EXPIRED: TokenError = TokenError {
    code: "TOKEN_EXPIRED",
    message: "Token has expired",
};

/// `{"alg":"HS256","typ":"JWT"}`, base64url.
const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

#[derive(serde::Deserialize)]
struct Claims {
    sub: String,
    typ: String,
    exp: u64,
    #[serde(default)]
    exp_ms: Option<u64>,
}

#[derive(serde::Deserialize)]
struct PassClaims {
    sub: String,
    evt: String,
    exp_ms: u64,
}

/// A queue pass read back: whose, for which event, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    pub user: String,
    pub event: String,
    pub expires_ms: u64,
}

pub struct Signer {
    key: hmac::Key,
    jti: AtomicU64,
}

impl Signer {
    pub fn new(seed: u64) -> Self {
        let mut secret = b"stampede-booking-rush-simulator:".to_vec();
        secret.extend_from_slice(&seed.to_be_bytes());
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            jti: AtomicU64::new(0),
        }
    }

    fn sign(&self, input: &str) -> String {
        B64.encode(hmac::sign(&self.key, input.as_bytes()).as_ref())
    }

    /// `<base64url(header)>.<base64url(payload)>.<base64url(HMAC)>`, or the
    /// payload alone when `header` is empty (queue passes).
    fn seal(&self, prefix: &str, payload: &str) -> String {
        let signed = format!("{prefix}.{}", B64.encode(payload));
        let sig = self.sign(&signed);
        format!("{signed}.{sig}")
    }

    /// The payload of a token sealed under `prefix` whose signature holds.
    fn open(&self, prefix: &str, token: &str) -> Option<Vec<u8>> {
        let (signed, sig) = token.rsplit_once('.')?;
        let (p, payload) = signed.split_once('.')?;
        if p != prefix {
            return None;
        }
        let sig = B64.decode(sig).ok()?;
        hmac::verify(&self.key, signed.as_bytes(), &sig).ok()?;
        B64.decode(payload).ok()
    }

    /// An access (`typ = "access"`) or refresh token for `sub`.
    pub fn mint(&self, sub: &str, typ: &str, now_ms: u64, ttl: Duration) -> String {
        let exp_ms = now_ms.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let jti = self.jti.fetch_add(1, Relaxed) + 1;
        let payload = Obj::new()
            .str("sub", sub)
            .str("email", sub)
            .str("typ", typ)
            .num("iat", now_ms / 1000)
            .num("exp", exp_ms / 1000)
            .num("exp_ms", exp_ms)
            .str("jti", &jti.to_string())
            .text();
        self.seal(HEADER, &payload)
    }

    /// The subject of a valid, unexpired token of type `typ`.
    pub fn verify(&self, token: &str, typ: &str, now_ms: u64) -> Result<String, TokenError> {
        let payload = self.open(HEADER, token).ok_or(INVALID_TOKEN)?;
        let c: Claims = serde_json::from_slice(&payload).map_err(|_| INVALID_TOKEN)?;
        if c.typ != typ || c.sub.is_empty() {
            return Err(INVALID_TOKEN);
        }
        let exp_ms = c.exp_ms.unwrap_or(c.exp.saturating_mul(1000));
        if now_ms >= exp_ms {
            return Err(TOKEN_EXPIRED);
        }
        Ok(c.sub)
    }

    /// A queue pass for `user` at `event`, valid until `expires_ms`; `n`
    /// makes every pass distinct.
    pub fn pass(&self, user: &str, event: &str, n: u64, expires_ms: u64) -> String {
        let payload = Obj::new()
            .str("sub", user)
            .str("evt", event)
            .num("exp_ms", expires_ms)
            .num("n", n)
            .text();
        self.seal("qp", &payload)
    }

    /// A pass this simulator issued (signature checked), or None.
    pub fn read_pass(&self, pass: &str) -> Option<Pass> {
        let payload = self.open("qp", pass)?;
        let c: PassClaims = serde_json::from_slice(&payload).ok()?;
        Some(Pass {
            user: c.sub,
            event: c.evt,
            expires_ms: c.exp_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_expire_and_refuse_tampering() {
        let s = Signer::new(7);
        let t = s.mint("a@x.io", "access", 1_000_000, Duration::from_secs(900));
        assert_eq!(t.split('.').count(), 3);
        assert_eq!(s.verify(&t, "access", 1_000_000), Ok("a@x.io".into()));
        assert_eq!(s.verify(&t, "access", 1_900_000), Err(TOKEN_EXPIRED));
        assert_eq!(s.verify(&t, "refresh", 1_000_000), Err(INVALID_TOKEN));
        assert_eq!(s.verify("garbage", "access", 0), Err(INVALID_TOKEN));
        // Same seed, same key: a reset keeps tokens valid; another seed not.
        assert!(Signer::new(7).verify(&t, "access", 1_000_000).is_ok());
        assert_eq!(
            Signer::new(8).verify(&t, "access", 1_000_000),
            Err(INVALID_TOKEN)
        );
        let parts: Vec<&str> = t.split('.').collect();
        let forged = B64.encode(
            String::from_utf8(B64.decode(parts[1]).unwrap())
                .unwrap()
                .replace("a@x.io", "b@x.io"),
        );
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_eq!(s.verify(&tampered, "access", 1_000_000), Err(INVALID_TOKEN));
        // A standard JWT header and HS256 signature.
        assert_eq!(
            B64.decode(parts[0]).unwrap(),
            br#"{"alg":"HS256","typ":"JWT"}"#
        );
    }

    #[test]
    fn passes_carry_user_event_and_expiry() {
        let s = Signer::new(1);
        let p = s.pass("a@x.io", "EVT1", 3, 5_000);
        assert_eq!(
            s.read_pass(&p),
            Some(Pass {
                user: "a@x.io".into(),
                event: "EVT1".into(),
                expires_ms: 5_000
            })
        );
        assert_ne!(p, s.pass("a@x.io", "EVT1", 4, 5_000));
        assert_eq!(s.read_pass("qp_forged"), None);
        let t = s.mint("a@x.io", "access", 0, Duration::from_secs(1));
        assert_eq!(s.read_pass(&t), None, "a JWT is no pass");
    }
}
