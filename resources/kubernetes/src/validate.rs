//! Kubernetes naming rules, checked at plan time.

/// DNS-1123 label (namespaces, most names): 1-63 lowercase alphanumerics or `-`, alphanumeric at both ends.
pub fn check_dns1123_label(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 63 {
        return Err(format!("`{name}` must be 1 to 63 characters (a DNS-1123 label)"));
    }
    check_label_chars(name, "a DNS-1123 label: lowercase letters, digits and `-`, starting and ending with a letter or digit")
}

/// DNS-1123 subdomain (service accounts, deployments): up to 253 characters of labels joined by `.`.
pub fn check_dns1123_subdomain(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err(format!("`{name}` must be 1 to 253 characters (a DNS-1123 subdomain)"));
    }
    for part in name.split('.') {
        check_label_chars(part, "a DNS-1123 subdomain: lowercase letters, digits, `-` and `.`, each part starting and ending with a letter or digit")
            .map_err(|e| e.replace(&format!("`{part}`"), &format!("`{name}`")))?;
    }
    Ok(())
}

fn check_label_chars(s: &str, rule: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if s.is_empty() || !s.chars().all(ok_char) || !alnum(s.chars().next()) || !alnum(s.chars().last()) {
        let hint = if s.chars().any(|c| c.is_ascii_uppercase()) { " (uppercase is not allowed)" } else { "" };
        return Err(format!("`{s}` is not {rule}{hint}"));
    }
    Ok(())
}

/// A qualified name (label and annotation keys without prefix): 1-63 of alphanumerics, `-`, `_`, `.`, alphanumeric at both ends.
fn check_qualified_name(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() || name.len() > 63 || !name.chars().all(ok) || !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err(format!(
            "`{name}` must be 1 to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// Label and annotation keys: `[prefix/]name`, the prefix a DNS-1123 subdomain of at most 253 characters.
pub fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        check_dns1123_subdomain(p).map_err(|e| format!("the prefix of key `{key}`: {e}"))?;
    }
    check_qualified_name(name).map_err(|e| format!("key `{key}`: {e}"))
}

/// Label values: empty, or 1-63 characters like a qualified name.
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    check_qualified_name(value).map_err(|e| format!("label value {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        assert!(check_dns1123_label("s3-demo").is_ok());
        assert!(check_dns1123_label("S3").unwrap_err().contains("uppercase"));
        assert!(check_dns1123_label("-x").is_err());
        assert!(check_dns1123_label(&"a".repeat(64)).is_err());
        assert!(check_dns1123_subdomain("test.deployment").is_ok());
        assert!(check_dns1123_subdomain("bad_name").is_err());
        assert!(check_key("eks.amazonaws.com/role-arn").is_ok());
        assert!(check_key("app").is_ok());
        assert!(check_key("Bad Prefix/x").is_err());
        assert!(check_key("x/-bad").is_err());
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("has space").is_err());
    }
}
