//! W3C trace context, carried in the `traceparent` header so one trace id follows a referral
//! through every service without a tracing backend being required.

use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub span_id: String,
}

impl TraceContext {
    /// A new trace (a request entering the system).
    pub fn start() -> Self {
        Self {
            trace_id: Uuid::new_v4().simple().to_string(),
            span_id: new_span_id(),
        }
    }

    /// The next hop in the same trace.
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id.clone(),
            span_id: new_span_id(),
        }
    }

    pub fn to_header(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, self.span_id)
    }

    /// Parses `00-<32 hex>-<16 hex>-<2 hex>`; anything else starts a fresh trace.
    pub fn from_header(header: Option<&str>) -> Self {
        let parsed = header.and_then(|h| {
            let parts: Vec<&str> = h.split('-').collect();
            let hex = |s: &str, n| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
            (parts.len() == 4 && hex(parts[1], 32) && hex(parts[2], 16)).then(|| Self {
                trace_id: parts[1].to_string(),
                span_id: parts[2].to_string(),
            })
        });
        parsed.unwrap_or_else(Self::start)
    }
}

fn new_span_id() -> String {
    Uuid::new_v4().simple().to_string()[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_the_trace_id_across_hops() {
        let t = TraceContext::start();
        let back = TraceContext::from_header(Some(&t.to_header()));
        assert_eq!(back, t);
        assert_eq!(t.child().trace_id, t.trace_id);
        assert_ne!(
            TraceContext::from_header(Some("garbage")).trace_id,
            t.trace_id
        );
    }
}
