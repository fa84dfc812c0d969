//! The router, and the request-id filter, on arbitrary method, target and
//! header bytes: whatever comes in, the reply is one of the documented
//! statuses, its body is valid JSON of the right shape, an error never
//! echoes markup, and only a safe request id is ever echoed.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sre_kata::route::{route, Caching, Health, MediaType, RequestHead};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    method: &'a str,
    target: &'a str,
    request_id: &'a str,
    declares_body: bool,
    draining: bool,
    short_limit: bool,
}

fuzz_target!(|input: Input<'_>| {
    let head = RequestHead {
        method: input.method,
        target: input.target,
        declares_body: input.declares_body,
    };
    let health = if input.draining { Health::Draining } else { Health::Serving };
    let limit = if input.short_limit { 16 } else { 8192 };
    let reply = route(&head, health, limit);

    assert!(
        [200, 400, 404, 405, 413, 414, 503].contains(&reply.status),
        "{} for {input:?}",
        reply.status
    );
    let body: serde_json::Value = serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("{e}: {} for {input:?}", reply.body));
    if reply.status >= 400 {
        assert_eq!(reply.media_type, MediaType::Problem);
        assert_eq!(reply.caching, Caching::NoStore);
        assert_eq!(body["status"], reply.status);
        assert_eq!(body.as_object().map(|o| o.len()), Some(4), "{body}");
        assert!(!reply.body.contains('<'), "markup in {}", reply.body);
        assert_eq!(reply.allow, reply.status == 405);
    } else {
        assert_eq!(reply.media_type, MediaType::Json);
        assert!(body["count"].is_u64() || body["status"] == "ok", "{body}");
    }

    match sre_kata::request_id::accept(input.request_id) {
        Some(echoed) => {
            assert_eq!(echoed, input.request_id);
            assert!((1..=128).contains(&echoed.len()));
            assert!(echoed.bytes().all(|b| b.is_ascii_graphic()), "{echoed:?}");
        }
        None => assert!(
            input.request_id.is_empty()
                || input.request_id.len() > 128
                || !input.request_id.bytes().all(|b| b.is_ascii_graphic())
        ),
    }
});
