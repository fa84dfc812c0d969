//! Request ids: the `X-Request-Id` every response carries and every access
//! log line records, so one request can be followed from client to log.
//!
//! Contract: a client's id is echoed only if it is 1 to 128 visible ASCII
//! characters, since it goes back out in a header and into logs. Otherwise,
//! or if there is none, a fresh one is made: 32 hex digits, a random
//! per-process prefix and a counter, unique for the life of the process.

use std::sync::atomic::{AtomicU64, Ordering};

/// The longest client-sent id that is echoed.
pub const MAX_LEN: usize = 128;

/// Returns the client's id if it is safe to echo.
pub fn accept(client_id: &str) -> Option<&str> {
    let safe =
        (1..=MAX_LEN).contains(&client_id.len()) && client_id.bytes().all(|b| b.is_ascii_graphic());
    safe.then_some(client_id)
}

/// Makes fresh request ids.
#[derive(Debug)]
pub struct Generator {
    prefix: u64,
    counter: AtomicU64,
}

impl Generator {
    /// A generator whose ids start with `prefix`; pass a random value so that
    /// ids from different processes do not collide.
    pub fn new(prefix: u64) -> Self {
        Generator {
            prefix,
            counter: AtomicU64::new(0),
        }
    }

    /// A new id.
    pub fn next_id(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut id = String::with_capacity(32);
        for half in [self.prefix, n] {
            for shift in (0..16).rev() {
                id.push(char::from(HEX[((half >> (shift * 4)) & 0xf) as usize]));
            }
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_ids_are_echoed() {
        assert_eq!(accept("abc-123"), Some("abc-123"));
        assert_eq!(
            accept("1-67891234-abcdef:x/y+z="),
            Some("1-67891234-abcdef:x/y+z=")
        );
        let longest = "a".repeat(MAX_LEN);
        assert_eq!(accept(&longest), Some(longest.as_str()));
    }

    #[test]
    fn unsafe_ids_are_replaced() {
        for id in [
            "",
            "a b",
            "a\nb",
            "a\rb",
            "é",
            "a\u{7f}",
            &"a".repeat(MAX_LEN + 1),
        ] {
            assert_eq!(accept(id), None, "{id:?}");
        }
    }

    #[test]
    fn generated_ids_are_32_hex_digits_and_unique() {
        let ids = Generator::new(0xdead_beef);
        let first = ids.next_id();
        let second = ids.next_id();
        assert_eq!(first, "00000000deadbeef0000000000000000");
        assert_eq!(second, "00000000deadbeef0000000000000001");
        assert!(accept(&first).is_some());
    }
}
