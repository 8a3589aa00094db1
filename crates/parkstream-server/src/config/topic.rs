//! Topic patterns such as `parking/{lot}/count`: the subscription filter they stand for
//! (`parking/+/count`) and the lot a topic names.

use std::fmt;

/// A topic pattern with one `{lot}` level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPattern {
    levels: Vec<String>,
    lot_level: usize,
}

/// The placeholder a pattern's lot level is written as.
const LOT: &str = "{lot}";

impl TopicPattern {
    /// # Errors
    /// When the pattern has no `{lot}` level or more than one, an empty level, or an MQTT
    /// wildcard (`+`, `#`).
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let levels: Vec<String> = pattern.split('/').map(str::to_owned).collect();
        if levels.iter().any(|level| level.contains(['+', '#'])) {
            return Err("must not hold the wildcards + or #: {lot} marks the lot's level".into());
        }
        if levels.iter().any(String::is_empty) || pattern.starts_with('$') {
            return Err("must be levels separated by single slashes, not starting with $".into());
        }
        let lots: Vec<usize> = (0..levels.len()).filter(|&i| levels[i] == LOT).collect();
        match lots[..] {
            [lot_level] => Ok(Self { levels, lot_level }),
            _ => Err("must have exactly one level that is {lot}, e.g. parking/{lot}/count".into()),
        }
    }

    /// The subscription filter: the pattern with `+` for the lot.
    pub fn filter(&self) -> String {
        let mut levels = self.levels.clone();
        levels[self.lot_level] = "+".into();
        levels.join("/")
    }

    /// The lot `topic` names, when it matches the pattern.
    pub fn lot<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let levels: Vec<&str> = topic.split('/').collect();
        if levels.len() != self.levels.len() {
            return None;
        }
        let mut lot = None;
        for (i, (level, expected)) in levels.iter().zip(&self.levels).enumerate() {
            if i == self.lot_level {
                lot = Some(*level).filter(|l| !l.is_empty());
            } else if level != expected {
                return None;
            }
        }
        lot
    }
}

impl fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.levels.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_gives_its_filter_and_the_lot_of_a_matching_topic() {
        let pattern = TopicPattern::parse("parking/{lot}/count").unwrap();
        assert_eq!(pattern.filter(), "parking/+/count");
        assert_eq!(pattern.lot("parking/north/count"), Some("north"));
        assert_eq!(pattern.lot("parking/north/gate"), None);
        assert_eq!(pattern.lot("parking//count"), None);
        assert_eq!(pattern.lot("parking/north/count/x"), None);
        let first = TopicPattern::parse("{lot}/occupancy").unwrap();
        assert_eq!(first.lot("p1/occupancy"), Some("p1"));
        assert_eq!(first.to_string(), "{lot}/occupancy");
    }

    #[test]
    fn patterns_without_one_lot_level_or_with_wildcards_are_refused() {
        for bad in [
            "parking/count",
            "parking/{lot}/{lot}",
            "parking/+/{lot}",
            "parking/{lot}/#",
            "parking//{lot}",
            "$SYS/{lot}",
            "",
        ] {
            assert!(TopicPattern::parse(bad).is_err(), "{bad:?}");
        }
    }
}
