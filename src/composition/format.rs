//! The subset of Go's `fmt.Sprintf` that Compositions use in `string.fmt` and combine formats:
//! verbs `%s %v %d %f %t %q %x %%` with flags, width and precision, over decoded JSON values.

use serde_json::Value;

/// Flags, width and precision of one verb.
#[derive(Default)]
struct Spec {
    flags: String,
    width: usize,
    precision: Option<usize>,
}

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
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek().filter(|f| matches!(f, '-' | '+' | '0' | ' ' | '#')) {
            spec.flags.push(f);
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        spec.width = width.parse().unwrap_or(0);
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            spec.precision = Some(p.parse::<usize>().unwrap_or(0));
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
        out.push_str(&format_arg(verb, arg, &spec, false));
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| match a {
                Value::Null => "<nil>".to_owned(),
                a => format!("{}={}", go_type(a), go_value(a)),
            })
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

/// A value as Go's `%v` prints it: `[a b]` for lists, `map[k:v]` (keys sorted) for objects,
/// `<nil>` for null.
pub fn go_value(value: &Value) -> String {
    format_arg('v', value, &Spec::default(), false)
}

/// One argument: lists and objects element by element with the same verb, as Go prints a
/// `[]interface{}` or `map[string]interface{}`; a null inside them is `<nil>` whatever the verb.
fn format_arg(verb: char, arg: &Value, spec: &Spec, nested: bool) -> String {
    match arg {
        Value::Array(items) => {
            let items: Vec<String> =
                items.iter().map(|i| format_arg(verb, i, spec, true)).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let entries: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    let key = format_arg(verb, &Value::String(k.clone()), spec, true);
                    format!("{key}:{}", format_arg(verb, &map[k], spec, true))
                })
                .collect();
            format!("map[{}]", entries.join(" "))
        }
        Value::Null if nested || verb == 'v' => pad("<nil>".to_owned(), spec),
        Value::Null => format!("%!{verb}(<nil>)"),
        scalar => pad(format_scalar(verb, scalar, spec.precision), spec),
    }
}

fn format_scalar(verb: char, arg: &Value, precision: Option<usize>) -> String {
    match (verb, arg) {
        ('s' | 'v', Value::String(s)) => match precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('v', Value::Number(n)) if n.is_f64() => go_float(n.as_f64().unwrap_or_default()),
        ('v' | 'd', Value::Number(n)) if !n.is_f64() => n.to_string(),
        ('v' | 't', Value::Bool(b)) => b.to_string(),
        ('f' | 'F', Value::Number(n)) if n.is_f64() => {
            format!("{:.*}", precision.unwrap_or(6), n.as_f64().unwrap_or_default())
        }
        ('q', Value::String(s)) => format!("{s:?}"),
        ('x', Value::String(s)) => hex::encode(s),
        ('x', Value::Number(n)) if !n.is_f64() => match n.as_i64() {
            Some(i) if i < 0 => format!("-{:x}", i.unsigned_abs()),
            _ => format!("{:x}", n.as_u64().unwrap_or_default()),
        },
        _ => format!("%!{verb}({}={})", go_type(arg), go_value(arg)),
    }
}

/// Go's `%v` for a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits that
/// round-trip, in exponent form when the exponent is below -4 or at least 6 (`1e+06`).
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` prints the same shortest round-trip digits, e.g. `-1.234567e6`.
    let scientific = format!("{:e}", f.abs());
    let (mantissa, exp) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exp: i32 = exp.parse().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let fraction = if digits.len() > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{}{fraction}e{exp_sign}{:02}", &digits[..1], exp.abs());
    }
    if exp < 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize));
    }
    let point = exp as usize + 1;
    if digits.len() <= point {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
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

fn pad(body: String, spec: &Spec) -> String {
    let len = body.chars().count();
    if len >= spec.width {
        return body;
    }
    let fill = spec.width - len;
    if spec.flags.contains('-') {
        format!("{body}{}", " ".repeat(fill))
    } else if spec.flags.contains('0') {
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

    #[test]
    fn prints_lists_objects_and_floats_the_way_go_prints_v() {
        let list = json!(["a", "b"]);
        assert_eq!(go_format("%v", std::slice::from_ref(&list)), "[a b]");
        assert_eq!(go_format("%s", &[list]), "[a b]");
        assert_eq!(go_format("%v", &[json!({"b": 2, "a": [1, null]})]), "map[a:[1 <nil>] b:2]");
        assert_eq!(go_format("%d", &[json!([1, "x"])]), "[1 %!d(string=x)]");
        assert_eq!(go_format("%v|%s", &[Value::Null, Value::Null]), "<nil>|%!s(<nil>)");
        let floats = [1.5, 2.0, 1e6, 123456.0, 1.234567e7, 0.0001, 0.00001, -2.5e-7];
        let printed: Vec<String> = floats.iter().map(|f| go_value(&json!(f))).collect();
        assert_eq!(
            printed,
            ["1.5", "2", "1e+06", "123456", "1.234567e+07", "0.0001", "1e-05", "-2.5e-07"]
        );
        assert_eq!(go_format("%f", &[json!(3)]), "%!f(int64=3)");
    }
}
