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
        return Err(format!("`{name}` must be 1 to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"));
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

/// A container image reference, as `docker pull` and the kubelet parse it:
/// `[registry[:port]/]path[:tag][@algorithm:hex]`, with lowercase path components (letters,
/// digits, separated by `.`, `_`, `__` or dashes), a tag of up to 128 word characters, `.` and
/// `-`, and a digest of at least 32 hex digits.
pub fn check_image_reference(image: &str) -> Result<(), String> {
    let fail = |why: &str| {
        let suggestion: String = image.trim().to_lowercase().chars().map(|c| if c.is_whitespace() { '-' } else { c }).collect();
        let hint = if suggestion != image && check_image_reference(&suggestion).is_ok() {
            format!(" (did you mean `{suggestion}`?)")
        } else {
            String::new()
        };
        Err(format!(
            "`{image}` is not an image reference: {why}; write it as `[registry/]name[:tag][@sha256:digest]` with a lowercase name, \
             e.g. `amazon/aws-cli:2.17.0`{hint}"
        ))
    };
    if image.is_empty() || image.len() > 4096 {
        return fail("it must be 1 to 4,096 characters");
    }
    if let Some(c) = image.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return fail(&format!("it contains {}", if c == ' ' { "a space".to_string() } else { format!("{c:?}") }));
    }
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let Some((algorithm, hex)) = digest.split_once(':') else { return fail("its digest has no `algorithm:` (e.g. `sha256:`)") };
        let algorithm_ok = algorithm.split(['+', '.', '-', '_']).all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric())
        });
        if !algorithm_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return fail("its digest is not `algorithm:hex` with at least 32 hex digits");
        }
    }
    // The tag follows the last `:` after the last `/` (a `:` before it is a registry's port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let mut chars = tag.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first_ok || tag.len() > 128 || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return fail(&format!("its tag `{tag}` is not 1 to 128 letters, digits, `_`, `.` and `-` (not starting with `.` or `-`)"));
        }
    }
    let mut components: Vec<&str> = name.split('/').collect();
    let first = components[0];
    let has_registry =
        components.len() > 1 && (first.contains('.') || first.contains(':') || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()));
    if has_registry {
        let host = first.split(':').next().unwrap_or("");
        let port_ok = first.split_once(':').is_none_or(|(_, port)| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()));
        let host_ok = !host.is_empty()
            && host.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !part.starts_with('-') && !part.ends_with('-')
            });
        if !host_ok || !port_ok {
            return fail(&format!("its registry `{first}` is not a host name with an optional port"));
        }
        components.remove(0);
    }
    for component in components {
        if !path_component_ok(component) {
            return fail(&format!("`{component}` is not a lowercase name component (letters and digits, separated by `.`, `_`, `__` or `-`)"));
        }
    }
    Ok(())
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn path_component_ok(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        if !(separator == "." || separator == "_" || separator == "__" || separator.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
    true
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

    #[test]
    fn image_references() {
        for ok in [
            "busybox",
            "amazon/aws-cli:latest",
            "public.ecr.aws/aws-cli/aws-cli:2.17.0",
            "localhost:5000/team/app:v1.2_3",
            "registry.example.com:443/a__b/c-d.e:1",
            "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:release-7",
        ] {
            assert!(check_image_reference(ok).is_ok(), "{ok}: {:?}", check_image_reference(ok));
        }
        let e = check_image_reference("Amazon/AWS CLI:latest").unwrap_err();
        assert!(e.contains("a space") && e.contains("did you mean `amazon/aws-cli:latest`?"), "{e}");
        for bad in ["amazon/AWS-cli", "nginx:", "nginx:-x", "nginx@sha256:abc", "a//b", "-a/b", "a/b-", "reg.io:port/x"] {
            assert!(check_image_reference(bad).is_err(), "{bad} should be refused");
        }
    }
}
