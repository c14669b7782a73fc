//! Money: amounts are integer minor units of an ISO 4217 currency; this is the code list.

use crate::error::FieldError;

/// Active ISO 4217 alphabetic codes (without `XXX` "no currency" and `XTS` "testing").
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
    "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR",
    "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL",
    "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR",
    "XOF", "XPD", "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// The currency code uppercased, or a field error when it is not an ISO 4217 code.
pub fn currency(field: &str, code: &str, errors: &mut Vec<FieldError>) -> String {
    let code = code.trim().to_ascii_uppercase();
    if ISO_4217.binary_search(&code.as_str()).is_err() {
        errors.push(FieldError {
            field: field.into(),
            message: "is not an ISO 4217 currency code (e.g. EUR)".into(),
        });
    }
    code
}

/// A field error unless `amount` (minor units) is at least 0.
pub fn amount(field: &str, amount: i64, errors: &mut Vec<FieldError>) {
    if amount < 0 {
        errors.push(FieldError {
            field: field.into(),
            message: "must be at least 0".into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_checks_codes() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
        let mut errors = Vec::new();
        assert_eq!(currency("c", " eur ", &mut errors), "EUR");
        assert!(errors.is_empty());
        currency("c", "EURO", &mut errors);
        currency("c", "XXX", &mut errors);
        assert_eq!(errors.len(), 2);
    }
}
