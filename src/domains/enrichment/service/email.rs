//! The email verdict: syntax and normal form, then the domain's MX answer, then what the address
//! itself says (disposable domain, role account, no-reply). Pure: the DNS answer comes in.
//!
//! | found | verdict |
//! | --- | --- |
//! | invalid syntax, NXDOMAIN, no MX and no address, null MX | UNDELIVERABLE |
//! | disposable domain, role account, no-reply address | RISKY |
//! | DNS did not answer, or the check is off | UNKNOWN |
//! | MX (or implicit MX) and nothing else | DELIVERABLE |

use crate::{
    domains::{
        enrichment::types::{EmailValidation, ValidationReason as R},
        leads::types::EmailStatus,
    },
    platform::{
        contact::{is_free_provider, is_no_reply, is_role, DisposableDomains, NormalisedEmail},
        mx::MxAnswer,
    },
};

use super::cache::DomainAnswer;

/// The verdict on `input` (normalised to `norm`, or the syntax error) given its domain's answer.
pub fn verdict(
    input: &str,
    norm: Result<&NormalisedEmail, &str>,
    domain: Option<&DomainAnswer>,
    disposable_list: &DisposableDomains,
    mx_check: bool,
) -> EmailValidation {
    let mut v = EmailValidation {
        input: input.to_string(),
        normalized: None,
        verdict: EmailStatus::Undeliverable,
        reasons: vec![R::InvalidSyntax],
        syntax_valid: false,
        mx_found: None,
        mx_hosts: Vec::new(),
        null_mx: false,
        disposable: false,
        role: false,
        free_provider: false,
        catch_all: None,
        cached: false,
        checked_at: None,
    };
    let Ok(n) = norm else {
        return v;
    };
    v.normalized = Some(n.address.clone());
    v.syntax_valid = true;
    v.reasons.clear();
    v.disposable = disposable_list.contains(&n.domain);
    v.role = is_role(&n.local);
    v.free_provider = is_free_provider(&n.domain);
    let mx = domain.map_or(MxAnswer::Unknown, |d| d.mx.clone());
    if let Some(d) = domain {
        v.cached = d.cached;
        v.checked_at = d.checked_at;
    }
    let undeliverable = match &mx {
        MxAnswer::NoDomain => Some(R::NoDomain),
        MxAnswer::NoMail => Some(R::NoMx),
        MxAnswer::NullMx => Some(R::NullMx),
        _ => None,
    };
    v.null_mx = mx == MxAnswer::NullMx;
    v.mx_found = match &mx {
        MxAnswer::Unknown => None,
        MxAnswer::Hosts(_) | MxAnswer::Implicit => Some(true),
        _ => Some(false),
    };
    if let MxAnswer::Hosts(h) = &mx {
        v.mx_hosts = h.clone();
    }
    if let Some(r) = undeliverable {
        v.reasons.push(r);
        v.verdict = EmailStatus::Undeliverable;
        return v;
    }
    let risky: Vec<R> = [
        (v.disposable, R::Disposable),
        (v.role, R::RoleAccount),
        (is_no_reply(&n.local), R::NoReply),
    ]
    .into_iter()
    .filter_map(|(on, r)| on.then_some(r))
    .collect();
    let (status, first) = match (&mx, risky.is_empty()) {
        (MxAnswer::Unknown, true) if !mx_check => (EmailStatus::Unknown, R::MxNotChecked),
        (MxAnswer::Unknown, true) => (EmailStatus::Unknown, R::DnsUnavailable),
        (MxAnswer::Unknown, false) if !mx_check => (EmailStatus::Risky, R::MxNotChecked),
        (MxAnswer::Unknown, false) => (EmailStatus::Risky, R::DnsUnavailable),
        (_, true) => (EmailStatus::Deliverable, R::MxFound),
        (_, false) => (EmailStatus::Risky, R::MxFound),
    };
    v.verdict = status;
    v.reasons.push(first);
    v.reasons.extend(risky);
    v
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::platform::contact::normalise_email;

    fn answer(mx: MxAnswer) -> DomainAnswer {
        DomainAnswer {
            mx,
            cached: false,
            checked_at: None,
        }
    }

    fn run(email: &str, mx: MxAnswer) -> (EmailStatus, Vec<R>) {
        let n = normalise_email(email);
        let list = DisposableDomains::shipped();
        let v = verdict(
            email,
            n.as_ref().map_err(|e| *e),
            Some(&answer(mx)),
            &list,
            true,
        );
        (v.verdict, v.reasons)
    }

    #[test]
    fn verdict_table() {
        let hosts = || MxAnswer::Hosts(vec!["mx.acme.example".into()]);
        use EmailStatus::*;
        assert_eq!(
            run("jane@acme.example", hosts()),
            (Deliverable, vec![R::MxFound])
        );
        assert_eq!(
            run("jane@acme", hosts()),
            (Undeliverable, vec![R::InvalidSyntax])
        );
        assert_eq!(
            run("jane@acme.example", MxAnswer::NullMx),
            (Undeliverable, vec![R::NullMx])
        );
        assert_eq!(
            run("jane@acme.example", MxAnswer::NoMail),
            (Undeliverable, vec![R::NoMx])
        );
        assert_eq!(
            run("info@acme.example", hosts()),
            (Risky, vec![R::MxFound, R::RoleAccount])
        );
        assert_eq!(
            run("x@mailinator.com", hosts()),
            (Risky, vec![R::MxFound, R::Disposable])
        );
        assert_eq!(
            run("jane@acme.example", MxAnswer::Unknown),
            (Unknown, vec![R::DnsUnavailable])
        );
    }
}
