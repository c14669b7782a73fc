//! The one mapping between a GraphQL enum and the string it is stored as.
//!
//! `wire_enum!(Status { Draft => "DRAFT", Sent => "SENT" })` gives the enum `ALL` (every
//! storage form, in declaration order), `as_str` and `parse`. Storage forms are the GraphQL
//! names, so a stored value reads the same in SQL and on the wire.

/// Implements `ALL`, `as_str` and `parse` for a fieldless enum; see the module doc.
#[macro_export]
macro_rules! wire_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// Every storage form, in declaration order.
            #[allow(dead_code)]
            pub const ALL: &'static [&'static str] = &[$($s),*];
            /// Storage form.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
            /// Parses the storage form.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)* _ => None }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Colour {
        Red,
        DarkBlue,
    }
    crate::wire_enum!(Colour { Red => "RED", DarkBlue => "DARK_BLUE" });

    #[test]
    fn every_variant_round_trips_and_unknown_strings_are_refused() {
        for s in Colour::ALL {
            let c = Colour::parse(s).expect("listed forms parse");
            assert_eq!(c.as_str(), *s);
        }
        assert_eq!(Colour::parse("DarkBlue"), None);
        assert_eq!(Colour::DarkBlue.as_str(), "DARK_BLUE");
    }
}
