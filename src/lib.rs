//! sre-kata: counts the distinct characters that appear at least twice in a
//! string, over HTTP, as a small hardened service.
//!
//! The pure core ([`count`], [`query`], [`problem`], [`route`]) never touches
//! a socket; the shell around it ([`server`], [`lifecycle`], [`sys`]) is thin.
//! `main.rs` only wires them together.

// Unsafe code lives where the system calls are: `sys` and `alloc` allow it.
#![deny(unsafe_code)]

pub mod alloc;
pub mod cli;
pub mod config;
pub mod count;
pub mod healthcheck;
pub mod json;
pub mod lifecycle;
pub mod log;
pub mod overload;
pub mod problem;
pub mod query;
pub mod reply;
pub mod request_id;
pub mod route;
pub mod server;
pub mod sys;
pub mod timestamp;
