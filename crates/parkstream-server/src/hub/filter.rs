//! What a stream asked to see: `lots=` and `types=`.

use std::sync::{Arc, RwLock};

use parkstream_protocol::EventType;

use bytes::Bytes;

use super::PublishedEvent;
use crate::domain::LotId;
use crate::sync::{read, write};

/// A set of event types as bits, cheap to test on the fan-out path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeMask(u8);

impl TypeMask {
    pub const ALL: TypeMask = TypeMask(u8::MAX);

    fn bit(t: EventType) -> u8 {
        1 << EventType::ALL.iter().position(|x| *x == t).expect("listed")
    }

    pub fn contains(self, t: EventType) -> bool {
        self.0 & Self::bit(t) != 0
    }
}

impl FromIterator<EventType> for TypeMask {
    fn from_iter<I: IntoIterator<Item = EventType>>(iter: I) -> Self {
        TypeMask(iter.into_iter().fold(0, |m, t| m | Self::bit(t)))
    }
}

/// A stream's filter. `None` lots means every lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub lots: Option<Vec<Arc<str>>>,
    pub types: TypeMask,
    /// Set for a contractor's stream: it sees only its own alerts and violations, and the
    /// capacity updates of its lots, without other contractors' plates.
    pub contractor: Option<ContractorScope>,
}

/// What a contractor's stream may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractorScope {
    pub id: Arc<str>,
    /// The lots it has allocations in, as they are now.
    pub lots: Arc<ContractorLots>,
}

/// The lots a contractor has allocations in, shared by all its open streams and replaced the
/// moment an allocation changes (the read model holds one per contractor and updates it on
/// every instance), so a stream never keeps access its contractor no longer has.
#[derive(Debug, Default)]
pub struct ContractorLots(RwLock<Arc<[Arc<str>]>>);

impl ContractorLots {
    pub fn new(lots: impl IntoIterator<Item = Arc<str>>) -> Self {
        Self(RwLock::new(lots.into_iter().collect()))
    }

    /// Replaces the lots.
    pub fn set(&self, lots: impl IntoIterator<Item = Arc<str>>) {
        *write(&self.0) = lots.into_iter().collect();
    }

    pub fn get(&self) -> Arc<[Arc<str>]> {
        read(&self.0).clone()
    }

    fn contains(&self, lot: &str) -> bool {
        read(&self.0).iter().any(|l| &**l == lot)
    }
}

impl PartialEq for ContractorLots {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for ContractorLots {}

/// A filter parameter that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub field: &'static str,
    pub message: String,
}

impl Filter {
    pub const EVERYTHING: Filter = Filter {
        lots: None,
        types: TypeMask::ALL,
        contractor: None,
    };

    /// Parses the comma-separated `lots` (at most `max_lots` of them) and `types` query
    /// values. Empty items are ignored; an empty list means no filter. Lots are kept sorted,
    /// so parsing is linear after one sort and matching an event is a binary search.
    ///
    /// # Errors
    /// When a lot id is malformed, there are more than `max_lots`, or a type name is unknown.
    pub fn parse(
        lots: Option<&str>,
        types: Option<&str>,
        max_lots: usize,
    ) -> Result<Self, FilterError> {
        fn items(raw: Option<&str>) -> Vec<&str> {
            raw.map(|r| {
                r.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
        }
        let lot_items = items(lots);
        if lot_items.len() > max_lots {
            return Err(FilterError {
                field: "lots",
                message: format!(
                    "a stream may filter on at most {max_lots} lots; {} were given",
                    lot_items.len()
                ),
            });
        }
        let lots = if lot_items.is_empty() {
            None
        } else {
            let mut parsed = Vec::with_capacity(lot_items.len());
            for raw in lot_items {
                let id = LotId::parse(raw).map_err(|message| FilterError {
                    field: "lots",
                    message,
                })?;
                parsed.push(id.as_arc().clone());
            }
            parsed.sort_unstable();
            parsed.dedup();
            Some(parsed)
        };
        let type_items = items(types);
        let types = if type_items.is_empty() {
            TypeMask::ALL
        } else {
            type_items
                .iter()
                .map(|raw| {
                    raw.parse::<EventType>().map_err(|e| FilterError {
                        field: "types",
                        message: format!(
                            "{e}; expected a comma-separated list of capacity_update, alert, violation"
                        ),
                    })
                })
                .collect::<Result<TypeMask, _>>()?
        };
        Ok(Filter {
            lots,
            types,
            contractor: None,
        })
    }

    /// Narrows the lots to `allowed` (a token's `lots` claim), when there is such a limit.
    #[must_use]
    pub fn within(mut self, allowed: Option<&[Arc<str>]>) -> Self {
        if let Some(allowed) = allowed {
            self.lots = Some(match self.lots {
                None => {
                    let mut lots = allowed.to_vec();
                    lots.sort_unstable();
                    lots.dedup();
                    lots
                }
                Some(asked) => asked.into_iter().filter(|l| allowed.contains(l)).collect(),
            });
        }
        self
    }

    /// Makes it a contractor's stream.
    #[must_use]
    pub fn for_contractor(mut self, scope: ContractorScope) -> Self {
        self.contractor = Some(scope);
        self
    }

    /// The lots to index the stream under; `None` to offer it every event (a contractor's own
    /// violations can be in any lot).
    pub fn index_lots(&self) -> Option<&[Arc<str>]> {
        if self.contractor.is_some() {
            None
        } else {
            self.lots.as_deref()
        }
    }

    /// The frame of `event` this stream may send, if any.
    pub fn select<'a>(&self, event: &'a PublishedEvent) -> Option<&'a Bytes> {
        if !self.accepts(event.event_type, event.lot.as_deref()) {
            return None;
        }
        let Some(scope) = &self.contractor else {
            return Some(&event.frame);
        };
        let mine = event.owner.as_deref() == Some(&*scope.id);
        match event.event_type {
            EventType::Alert | EventType::Violation => mine.then_some(&event.frame),
            EventType::CapacityUpdate => {
                let lot_is_mine = event
                    .lot
                    .as_deref()
                    .is_some_and(|lot| scope.lots.contains(lot));
                if !lot_is_mine {
                    None
                } else if mine {
                    Some(&event.frame)
                } else {
                    Some(event.redacted.as_ref().unwrap_or(&event.frame))
                }
            }
            _ => None,
        }
    }

    /// Whether an event of `event_type` about `lot` passes the type and lot filters.
    fn accepts(&self, event_type: EventType, lot: Option<&str>) -> bool {
        self.types.contains(event_type)
            && match (&self.lots, lot) {
                (None, _) => true,
                (Some(lots), Some(lot)) => lots.binary_search_by(|l| (**l).cmp(lot)).is_ok(),
                (Some(_), None) => true,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_ignores_empty_items() {
        let f = Filter::parse(Some("a, b,,a"), Some("alert,violation,"), 100).unwrap();
        assert_eq!(f.lots.as_ref().unwrap().len(), 2);
        assert!(f.accepts(EventType::Alert, Some("a")));
        assert!(f.accepts(EventType::Violation, Some("b")));
        assert!(!f.accepts(EventType::CapacityUpdate, Some("a")));
        assert!(!f.accepts(EventType::Alert, Some("c")));
        assert_eq!(
            Filter::parse(Some(""), Some(","), 100).unwrap(),
            Filter::EVERYTHING
        );
    }

    fn event(lot: &str, owner: Option<&str>, event_type: EventType, data: &str) -> PublishedEvent {
        // What the domain hands over for this one update naming a plate.
        let redacted = (data == UPDATE).then_some(r#"{"parkingLotId":"depot","occupied":3}"#);
        PublishedEvent::new(
            1,
            event_type,
            Some(lot.into()),
            owner.map(Into::into),
            data,
            redacted,
        )
    }

    const UPDATE: &str = r#"{"parkingLotId":"depot","plateNumber":"X1","occupied":3}"#;

    #[test]
    fn a_contractor_sees_its_lots_its_own_items_and_no_other_plates() {
        let acme = Filter::EVERYTHING.for_contractor(ContractorScope {
            id: "acme".into(),
            lots: Arc::new(ContractorLots::new(["depot".into()])),
        });
        let update = UPDATE;
        let theirs = event("depot", Some("zen"), EventType::CapacityUpdate, update);
        let frame = acme.select(&theirs).unwrap();
        assert!(
            !String::from_utf8_lossy(frame).contains("X1"),
            "another contractor's plate"
        );
        assert!(String::from_utf8_lossy(frame).contains("\"occupied\":3"));
        let ours = event("depot", Some("acme"), EventType::CapacityUpdate, update);
        assert!(String::from_utf8_lossy(acme.select(&ours).unwrap()).contains("X1"));
        assert!(acme
            .select(&event("north", None, EventType::CapacityUpdate, "{}"))
            .is_none());
        assert!(acme
            .select(&event("north", Some("acme"), EventType::Violation, "{}"))
            .is_some());
        assert!(acme
            .select(&event("depot", Some("zen"), EventType::Violation, "{}"))
            .is_none());
        assert!(acme
            .select(&event("depot", None, EventType::Alert, "{}"))
            .is_none());
    }

    #[test]
    fn a_contractors_stream_follows_its_allocations_as_they_change() {
        let lots = Arc::new(ContractorLots::new(["depot".into()]));
        let acme = Filter::EVERYTHING.for_contractor(ContractorScope {
            id: "acme".into(),
            lots: lots.clone(),
        });
        let update = event("depot", None, EventType::CapacityUpdate, "{}");
        assert!(acme.select(&update).is_some());
        lots.set(["north".into()]);
        assert!(acme.select(&update).is_none(), "a lot taken away");
        assert!(acme
            .select(&event("north", None, EventType::CapacityUpdate, "{}"))
            .is_some());
    }

    #[test]
    fn a_lots_list_longer_than_the_cap_is_refused() {
        let list: Vec<String> = (0..101).map(|n| format!("lot{n}")).collect();
        let err = Filter::parse(Some(&list.join(",")), None, 100).unwrap_err();
        assert_eq!(err.field, "lots");
        assert!(err.message.contains("at most 100"), "{}", err.message);
        let f = Filter::parse(Some(&list[..100].join(",")), None, 100).unwrap();
        assert!(f.accepts(EventType::Alert, Some("lot99")));
        assert!(!f.accepts(EventType::Alert, Some("lot100")));
    }

    #[test]
    fn a_lots_claim_narrows_what_was_asked() {
        let claim: Vec<Arc<str>> = vec!["a".into(), "b".into()];
        let asked = Filter::parse(Some("b,c"), None, 100)
            .unwrap()
            .within(Some(&claim));
        assert_eq!(asked.lots, Some(vec!["b".into()]));
        let all = Filter::EVERYTHING.within(Some(&claim));
        assert_eq!(all.lots, Some(claim.clone()));
        assert_eq!(Filter::EVERYTHING.within(None).lots, None);
    }

    #[test]
    fn refuses_unknown_types_and_bad_lot_ids() {
        let err = Filter::parse(None, Some("alert,bogus"), 100).unwrap_err();
        assert_eq!(err.field, "types");
        assert!(err.message.contains("bogus"));
        assert_eq!(
            Filter::parse(Some("a b"), None, 100).unwrap_err().field,
            "lots"
        );
    }
}
