//! Number spelling as QEMU writes it: integers as integers, doubles as C's
//! `%.17g`.
//!
//! QEMU prints non-finite doubles as the bare words `inf`, `-inf`, `nan`,
//! which is not JSON. This encoder writes `1e999` and `-1e999` instead
//! (valid JSON that QEMU's own parser, and most others, read back as
//! infinity) and `null` for NaN.

/// Appends a signed integer.
pub(crate) fn write_i64(out: &mut Vec<u8>, i: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
}

/// Appends an unsigned integer.
pub(crate) fn write_u64(out: &mut Vec<u8>, u: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
}

/// Appends a double spelled as `%.17g` (see the module docs for non-finite values).
pub(crate) fn write_f64(out: &mut Vec<u8>, d: f64) {
    if d.is_nan() {
        out.extend_from_slice(b"null");
    } else if d.is_infinite() {
        out.extend_from_slice(if d > 0.0 { b"1e999" } else { b"-1e999" });
    } else if d == 0.0 {
        out.extend_from_slice(if d.is_sign_negative() { b"-0" } else { b"0" });
    } else {
        out.extend_from_slice(format_g17(d).as_bytes());
    }
}

/// Appends a double spelled so that it reads back as a double: `%.17g`
/// with `.0` added where that spelling has no `.` or exponent (`1.0`,
/// `-0.0`); non-finite values as for [`write_f64`].
pub(crate) fn write_exact_f64(out: &mut Vec<u8>, d: f64) {
    let start = out.len();
    write_f64(out, d);
    let spelled = out.get(start..).unwrap_or_default();
    let integral = spelled.iter().all(|b| b.is_ascii_digit() || *b == b'-');
    if d.is_finite() && integral {
        out.extend_from_slice(b".0");
    }
}

/// C's `%.17g` for a finite, non-zero double.
fn format_g17(d: f64) -> String {
    const PRECISION: i32 = 17;
    // Seventeen significant digits, correctly rounded: "d.dddddddddddddddde±x".
    let scientific = format!("{:.16e}", d);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(24);
    if negative {
        out.push('-');
    }
    if !(-4..PRECISION).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        let rest = rest.trim_end_matches('0');
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
    } else if exponent >= 0 {
        let split = (exponent + 1) as usize;
        let (int_part, frac_part) = digits.split_at(split.min(digits.len()));
        out.push_str(int_part);
        let frac_part = frac_part.trim_end_matches('0');
        if !frac_part.is_empty() {
            out.push('.');
            out.push_str(frac_part);
        }
    } else {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(d: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, d);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn spells_doubles_as_percent_17g() {
        let cases = [
            (1.0, "1"),
            (-0.0, "-0"),
            (0.0, "0"),
            (0.1, "0.10000000000000001"),
            (1e-5, "1.0000000000000001e-05"),
            (1e10, "10000000000"),
            (18446744073709551616.0, "1.8446744073709552e+19"),
            (-9223372036854775809.0, "-9.2233720368547758e+18"),
            (123456789012345678901234567890.0, "1.2345678901234568e+29"),
            (1.5, "1.5"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (123.456, "123.456"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-2.5e-7, "-2.4999999999999999e-07"),
            (1e100, "1e+100"),
        ];
        for (d, want) in cases {
            assert_eq!(g(d), want, "{d:e}");
        }
    }

    #[test]
    fn exact_doubles_read_back_as_doubles() {
        let exact = |d: f64| {
            let mut out = Vec::new();
            write_exact_f64(&mut out, d);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(exact(1.0), "1.0");
        assert_eq!(exact(-0.0), "-0.0");
        assert_eq!(exact(0.0), "0.0");
        assert_eq!(exact(1e20), "1e+20");
        assert_eq!(exact(0.5), "0.5");
        assert_eq!(exact(f64::INFINITY), "1e999");
        for d in [1.0, -0.0, 3.0e15, 123456789.0, 0.1] {
            let text = exact(d);
            assert!(
                matches!(crate::from_str(&text), Ok(crate::Value::Double(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn non_finite_doubles_stay_valid_json() {
        assert_eq!(g(f64::INFINITY), "1e999");
        assert_eq!(g(f64::NEG_INFINITY), "-1e999");
        assert_eq!(g(f64::NAN), "null");
    }
}
