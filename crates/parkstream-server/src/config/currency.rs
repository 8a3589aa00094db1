//! `--currency`: the ISO 4217 code penalties are counted in, for the dashboard to format them.

use std::fmt;
use std::str::FromStr;

/// An ISO 4217 currency code: exactly three upper-case ASCII letters (`EUR`, `INR`). Whether
/// the code is assigned is left to the browser's `Intl.NumberFormat`, whose list changes
/// faster than a server release; the shape is what can go wrong in a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn as_str(&self) -> &str {
        // Checked to be ASCII letters when parsed.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl FromStr for Currency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(format!(
                "{:?} is not an ISO 4217 code: three upper-case letters, like EUR",
                s.chars().take(16).collect::<String>()
            )),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_upper_case_letters_and_nothing_else() {
        assert_eq!("EUR".parse::<Currency>().unwrap().as_str(), "EUR");
        assert_eq!("INR".parse::<Currency>().unwrap().to_string(), "INR");
        for bad in ["", "eur", "EU", "EURO", "E1R", " EUR", "ÉUR", "€"] {
            assert!(bad.parse::<Currency>().is_err(), "{bad:?}");
        }
    }
}
