//! The subset of Go's `fmt.Sprintf` that Compositions use in `string.fmt` and combine formats:
//! verbs `%s %v %d %f %t %q %x %%` with flags, width and precision.

use serde_json::Value;

use super::transform::plain;

/// Formats `args` into `fmt` the way Go's `fmt.Sprintf` does for JSON values, including Go's
/// `%!d(string=x)` and `%!s(MISSING)` markers, so output matches Crossplane's.
pub fn go_format(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek().filter(|f| matches!(f, '-' | '+' | '0' | ' ' | '#')) {
            flags.push(f);
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse::<usize>().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_arg += 1;
        let body = format_one(verb, arg, precision);
        out.push_str(&pad(body, &flags, width.parse().unwrap_or(0)));
    }
    if next_arg < args.len() {
        let extra: Vec<String> =
            args[next_arg..].iter().map(|a| format!("{}={}", go_type(a), plain(a))).collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn format_one(verb: char, arg: &Value, precision: Option<usize>) -> String {
    let bad = || format!("%!{verb}({}={})", go_type(arg), plain(arg));
    match (verb, arg) {
        ('s' | 'v', Value::String(s)) => match precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('v', Value::Number(n)) if n.is_f64() => go_float(n.as_f64().unwrap_or_default()),
        ('s', Value::Array(_) | Value::Object(_)) | ('v', _) => plain(arg),
        ('d', Value::Number(n)) if !n.is_f64() => n.to_string(),
        ('f', Value::Number(n)) => {
            format!("{:.*}", precision.unwrap_or(6), n.as_f64().unwrap_or_default())
        }
        ('t', Value::Bool(b)) => b.to_string(),
        ('q', Value::String(s)) => format!("{s:?}"),
        ('x', Value::String(s)) => hex::encode(s),
        ('x', Value::Number(n)) if !n.is_f64() => format!("{:x}", n.as_i64().unwrap_or_default()),
        _ => bad(),
    }
}

/// Go's `%v` for a float64: shortest representation, integral values without a fraction.
fn go_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 { format!("{f:.0}") } else { f.to_string() }
}

/// Go's type name for a decoded JSON value, as shown in `%!verb(type=value)`.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::Bool(_) => "bool",
        Value::Null => "<nil>",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn pad(body: String, flags: &str, width: usize) -> String {
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if flags.contains('-') {
        format!("{body}{}", " ".repeat(fill))
    } else if flags.contains('0') {
        match body.strip_prefix('-') {
            Some(rest) => format!("-{}{rest}", "0".repeat(fill)),
            None => format!("{}{body}", "0".repeat(fill)),
        }
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_like_go_sprintf() {
        assert_eq!(go_format("db-%s", &[json!("a")]), "db-a");
        assert_eq!(go_format("%s-%d", &[json!("a"), json!(7)]), "a-7");
        assert_eq!(
            go_format("%05d|%-4s|%.2f", &[json!(42), json!("x"), json!(1.5)]),
            "00042|x   |1.50"
        );
        assert_eq!(go_format("%v/%v/%t", &[json!(2.0), json!(true), json!(false)]), "2/true/false");
        assert_eq!(go_format("100%%", &[]), "100%");
    }

    #[test]
    fn marks_missing_extra_and_mismatched_arguments_like_go() {
        assert_eq!(go_format("%s-%s", &[json!("a")]), "a-%!s(MISSING)");
        assert_eq!(go_format("%s", &[json!("a"), json!(1)]), "a%!(EXTRA int64=1)");
        assert_eq!(go_format("%d", &[json!("x")]), "%!d(string=x)");
    }
}
