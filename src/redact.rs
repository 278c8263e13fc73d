//! Secrets out of messages: what an error or a log line may say about a
//! connection string.

/// `url` with the password of its user-info replaced by `***`, for error
/// messages and logs: `postgres://app:s3cret@db/x` → `postgres://app:***@db/x`.
///
/// The user-info ends at the *last* `@`: passwords written by hand often
/// hold a raw `@` (it should be percent-encoded, and often is not), and
/// hiding too much of a URL is harmless where showing a piece of a password
/// is not.
pub fn database_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn passwords_are_hidden() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db:5432/x",
                "postgres://app:***@db:5432/x",
            ),
            (
                "postgres://app:p@ss:w/rd@db/x?options=a",
                "postgres://app:***@db/x?options=a",
            ),
            (
                "postgresql://app:%40pw@127.0.0.1/x",
                "postgresql://app:***@127.0.0.1/x",
            ),
            ("postgres://app@db/x", "postgres://app@db/x"),
            ("postgres://db/x", "postgres://db/x"),
            ("sqlite://tpsettle.db", "sqlite://tpsettle.db"),
            ("mysql://root:pw@h/d", "mysql://root:***@h/d"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(database_url(url), shown, "{url}");
        }
    }
}
