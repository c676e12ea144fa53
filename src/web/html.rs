//! HTML escaping and the page layout. Every string that did not come from this module's own
//! literals goes through [`esc`]: names, labels, annotations and messages are user-controlled.

use std::fmt::Write as _;

/// Escapes text for an HTML element body or a double-quoted attribute value.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment or query value for an `href`.
pub fn url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `url` without its userinfo (`https://user:token@host/…` → `https://host/…`): Git URLs may
/// carry credentials, and every logged-in user sees the pages.
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// A status badge: green for `True`, red for `False`, grey otherwise.
pub fn badge(label: &str, status: &str) -> String {
    let class = match status {
        "True" => "ok",
        "False" => "bad",
        _ => "unknown",
    };
    format!(r#"<span class="badge {class}" title="{}">{}</span>"#, esc(label), esc(status))
}

/// The page around `body`: navigation, stylesheet, the live-update script and, when logged
/// in, the CSRF token the script sends with POSTs.
pub fn page(title: &str, csrf: Option<&str>, read_only: bool, body: &str) -> String {
    let nav = match csrf {
        Some(token) => format!(
            r#"<nav><a href="/">Overview</a> <a href="/portal">Portal</a> <form method="post" action="/logout" class="inline">{}<button>Log out</button></form></nav>"#,
            csrf_field(token)
        ),
        None => String::new(),
    };
    let mode = if read_only { r#"<p class="mode">Read-only mode</p>"# } else { "" };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title} · Crosstie</title><link rel="stylesheet" href="/assets/style.css">
<script src="/assets/app.js" defer></script></head>
<body><header><strong>Crosstie</strong> {nav}{mode}</header>
<main id="main">{body}</main></body></html>"#,
        title = esc(title),
    )
}

/// The hidden form field carrying the session's CSRF token.
pub fn csrf_field(token: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            esc(r#"<script>alert("x")&'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;)&amp;&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn credentials_are_cut_from_urls_and_nothing_else() {
        for (url, shown) in [
            ("http://deploy:ghp_TOKEN@host/x.git", "http://host/x.git"),
            ("https://ghp_TOKEN@github.com/org/repo", "https://github.com/org/repo"),
            ("ssh://git@host:22/repo.git", "ssh://host:22/repo.git"),
            ("https://host/path/with@sign", "https://host/path/with@sign"),
            ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
            ("/srv/git/platform.git", "/srv/git/platform.git"),
        ] {
            assert_eq!(without_credentials(url), shown, "{url}");
        }
    }

    #[test]
    fn url_segments_are_percent_encoded() {
        assert_eq!(url("a b/<c>"), "a%20b%2F%3Cc%3E");
    }
}
