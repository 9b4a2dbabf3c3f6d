//! Nobody the referral says must not be told is ever told (docs/DOMAIN.md 4: "the perpetrator
//! must never be informed of a MARAC referral"). The check compares every name a recipient goes
//! by (its organisation, the person or desk behind the channel, its id and its address) with
//! every entry of the referral's `do_not_inform` list and with the perpetrator's name, after
//! normalisation (case, and runs of white space, ignored). It is made when a notification is
//! planned and again before every send, whatever the configuration says.

use crate::recipients::Recipient;
use refroute_proto::v1::{Referral, referral};
use serde::{Deserialize, Serialize};

/// Who must not be told of one referral, as planning found it and the sender checks again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MustNotBeTold {
    /// The referral's do-not-inform list.
    pub entries: Vec<String>,
    /// The perpetrator's name (domestic abuse), who is never told whether listed or not.
    pub perpetrator: Option<String>,
}

impl MustNotBeTold {
    pub fn of(referral: &Referral) -> Self {
        let (entries, perpetrator) = match &referral.details {
            Some(referral::Details::DomesticAbuse(d)) => (
                d.do_not_inform.clone(),
                d.perpetrator.as_ref().map(|p| p.full_name.clone()),
            ),
            Some(referral::Details::CommunityMarac(c)) => (c.do_not_inform.clone(), None),
            Some(referral::Details::Prevent(p)) => (p.do_not_inform.clone(), None),
            None => (Vec::new(), None),
        };
        Self {
            entries,
            perpetrator: perpetrator.filter(|p| !normalised(p).is_empty()),
        }
    }

    /// Why `recipient` must not be told, if it must not: which kind of entry it matched (never
    /// the entry itself, which may be a person's name).
    pub fn refuses(&self, recipient: &Recipient) -> Option<&'static str> {
        let mut names = vec![
            normalised(&recipient.organisation),
            normalised(&recipient.id),
            normalised(recipient.address.as_str()),
        ];
        names.extend(recipient.contact.as_deref().map(normalised));
        names.retain(|n| !n.is_empty());
        let matches = |entry: &str| {
            let entry = normalised(entry);
            !entry.is_empty() && names.contains(&entry)
        };
        if self.entries.iter().any(|e| matches(e)) {
            Some("it is on the referral's do-not-inform list")
        } else if self.perpetrator.as_deref().is_some_and(matches) {
            Some("it is the perpetrator")
        } else {
            None
        }
    }
}

/// Lower case, with runs of white space counted as one space and the ends trimmed.
pub fn normalised(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use refroute_platform::access::organisations::ChannelAddress;
    use refroute_proto::v1::{
        CommunityMaracReferral, DomesticAbuseReferral, Person, PreventReferral,
    };

    fn recipient(organisation: &str, contact: Option<&str>, email: &str) -> Recipient {
        Recipient {
            id: "org-id".into(),
            organisation: organisation.into(),
            role: "referrer".into(),
            contact: contact.map(str::to_string),
            address: ChannelAddress::Email(email.into()),
            personal_data: false,
        }
    }

    fn listing(entries: &[&str]) -> MustNotBeTold {
        MustNotBeTold {
            entries: entries.iter().map(|s| s.to_string()).collect(),
            perpetrator: None,
        }
    }

    #[test]
    fn a_listed_recipient_is_refused_however_it_is_spelled() {
        let r = recipient(
            "London Borough of Hackney",
            Some("Duty Desk"),
            "statutory@hackney.example",
        );
        for entry in [
            "  london BOROUGH  of hackney ",
            "STATUTORY@hackney.example",
            "duty\tdesk",
            "ORG-ID",
        ] {
            assert!(listing(&["Mr X", entry]).refuses(&r).is_some(), "{entry}");
        }
        for entry in ["Hackney", "London Borough of Hackney Council", "", " "] {
            assert!(listing(&[entry]).refuses(&r).is_none(), "{entry:?}");
        }
    }

    #[test]
    fn the_perpetrator_is_never_told_whether_listed_or_not() {
        let referral = Referral {
            details: Some(referral::Details::DomesticAbuse(DomesticAbuseReferral {
                perpetrator: Some(Person {
                    full_name: "John  SMITH".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })),
            ..Default::default()
        };
        let m = MustNotBeTold::of(&referral);
        let r = recipient("Acme Housing", Some("john smith"), "js@acme.example");
        assert_eq!(m.refuses(&r), Some("it is the perpetrator"));
        assert_eq!(
            m.refuses(&recipient("Acme Housing", None, "housing@acme.example")),
            None
        );
    }

    #[test]
    fn an_empty_name_matches_nothing() {
        let nameless = recipient("", None, "");
        assert_eq!(listing(&["", " "]).refuses(&nameless), None);
        let unnamed_perpetrator = Referral {
            details: Some(referral::Details::DomesticAbuse(DomesticAbuseReferral {
                perpetrator: Some(Person::default()),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(MustNotBeTold::of(&unnamed_perpetrator).perpetrator, None);
    }

    #[test]
    fn the_list_is_read_from_every_pathway() {
        let names = vec!["P".to_string()];
        let with = |details| Referral {
            details: Some(details),
            ..Default::default()
        };
        for r in [
            with(referral::Details::DomesticAbuse(DomesticAbuseReferral {
                do_not_inform: names.clone(),
                ..Default::default()
            })),
            with(referral::Details::CommunityMarac(CommunityMaracReferral {
                do_not_inform: names.clone(),
                ..Default::default()
            })),
            with(referral::Details::Prevent(PreventReferral {
                do_not_inform: names.clone(),
                ..Default::default()
            })),
        ] {
            assert_eq!(MustNotBeTold::of(&r).entries, names);
        }
    }
}
