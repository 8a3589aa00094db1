//! What a stream asked to see: `lots=` and `types=`.

use std::sync::Arc;

use parkstream_protocol::EventType;

use crate::domain::LotId;

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
}

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
    };

    /// Parses the comma-separated `lots` and `types` query values. Empty items are ignored;
    /// an empty list means no filter.
    ///
    /// # Errors
    /// When a lot id is malformed or a type name is unknown.
    pub fn parse(lots: Option<&str>, types: Option<&str>) -> Result<Self, FilterError> {
        let items = |raw: Option<&str>| -> Vec<String> {
            raw.map(|r| {
                r.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
        };
        let lot_items = items(lots);
        let lots = if lot_items.is_empty() {
            None
        } else {
            let mut parsed = Vec::with_capacity(lot_items.len());
            for raw in &lot_items {
                let id = LotId::parse(raw).map_err(|message| FilterError {
                    field: "lots",
                    message,
                })?;
                if !parsed.contains(id.as_arc()) {
                    parsed.push(id.as_arc().clone());
                }
            }
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
        Ok(Filter { lots, types })
    }

    /// Whether an event of `event_type` about `lot` passes.
    pub fn accepts(&self, event_type: EventType, lot: Option<&str>) -> bool {
        self.types.contains(event_type)
            && match (&self.lots, lot) {
                (None, _) => true,
                (Some(lots), Some(lot)) => lots.iter().any(|l| &**l == lot),
                (Some(_), None) => true,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_ignores_empty_items() {
        let f = Filter::parse(Some("a, b,,a"), Some("alert,violation,")).unwrap();
        assert_eq!(f.lots.as_ref().unwrap().len(), 2);
        assert!(f.accepts(EventType::Alert, Some("a")));
        assert!(f.accepts(EventType::Violation, Some("b")));
        assert!(!f.accepts(EventType::CapacityUpdate, Some("a")));
        assert!(!f.accepts(EventType::Alert, Some("c")));
        assert_eq!(
            Filter::parse(Some(""), Some(",")).unwrap(),
            Filter::EVERYTHING
        );
    }

    #[test]
    fn refuses_unknown_types_and_bad_lot_ids() {
        let err = Filter::parse(None, Some("alert,bogus")).unwrap_err();
        assert_eq!(err.field, "types");
        assert!(err.message.contains("bogus"));
        assert_eq!(Filter::parse(Some("a b"), None).unwrap_err().field, "lots");
    }
}
