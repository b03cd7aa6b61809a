//! Naming and syntax rules AWS enforces, checked at plan time so a bad value never reaches an API.
//! Each function returns the problem and its fix, to be reported against a resource's field.

/// IAM role names: 1-64 characters of letters, digits and `+=,.@_-`.
pub fn check_role_name(name: &str) -> Result<(), String> {
    check_iam_name(name, 64, "role")
}

/// A role named by a policy or attachment: its name, which is also a valid role name (not its ARN).
pub fn check_role_reference(role: &str) -> Result<(), String> {
    if role.starts_with("arn:") {
        let name = role.rsplit('/').next().unwrap_or(role);
        return Err(format!("`{role}` is an ARN; pass the role's name (`role.name()`), e.g. \"{name}\""));
    }
    check_role_name(role)
}

/// IAM managed policy names: 1-128 characters of letters, digits and `+=,.@_-`.
pub fn check_policy_name(name: &str) -> Result<(), String> {
    check_iam_name(name, 128, "policy")
}

fn check_iam_name(name: &str, max: usize, what: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > max {
        return Err(format!("`{name}` must be 1 to {max} characters long (IAM {what} name rule)"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))) {
        return Err(format!("`{name}` contains `{bad}`; IAM {what} names may only use letters, digits and + = , . @ _ -"));
    }
    Ok(())
}

/// IAM paths: `/` or `/segment/.../`, at most 512 characters of printable ASCII.
pub fn check_iam_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.len() > 512 {
        return Err(format!("`{path}` must be 1 to 512 characters long"));
    }
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(format!("`{path}` must begin and end with `/` (e.g. \"/\" or \"/teams/data/\")"));
    }
    if path.contains("//") {
        return Err(format!("`{path}` has an empty segment (`//`)"));
    }
    if let Some(bad) = path.chars().find(|c| !('\u{21}'..='\u{7e}').contains(c)) {
        return Err(format!("`{path}` contains `{bad}`; use printable ASCII without spaces"));
    }
    Ok(())
}

/// S3 general-purpose bucket naming rules.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let fix = "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit";
    if name.len() < 3 || name.len() > 63 {
        return Err(format!("`{name}` is {} characters long; {fix}", name.len()));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-')) {
        let hint = if bad.is_ascii_uppercase() { " (uppercase is not allowed)" } else { "" };
        return Err(format!("`{name}` contains `{bad}`{hint}; {fix}"));
    }
    let first_last_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_last_ok(name.chars().next()) || !first_last_ok(name.chars().last()) {
        return Err(format!("`{name}` must start and end with a letter or digit"));
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err(format!("`{name}` must not contain `..`, `.-` or `-.`"));
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err(format!("`{name}` looks like an IP address, which S3 does not allow"));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!("`{name}` must not start with the reserved prefix `{prefix}`"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", "--x-s3", ".mrap", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(format!("`{name}` must not end with the reserved suffix `{suffix}`"));
        }
    }
    Ok(())
}

/// ARN syntax: `arn:partition:service:region:account:resource`.
pub fn check_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" {
        return Err("is not an ARN (`arn:partition:service:region:account:resource`) or \"*\"".into());
    }
    if !matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b" | "aws-iso-e" | "aws-iso-f" | "aws-eusc") {
        return Err(format!("has an unknown partition `{}` (expected e.g. `aws`)", parts[1]));
    }
    if parts[2].is_empty() || !parts[2].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(format!("has an invalid service `{}`", parts[2]));
    }
    let account = parts[4];
    if !account.is_empty() && account != "*" && !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())) && account != "aws" {
        return Err(format!("has account `{account}`, which is not 12 digits"));
    }
    if parts[5].is_empty() {
        return Err("has an empty resource part".into());
    }
    Ok(())
}

/// The account id in an ARN, if it has one.
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// A 12-digit account id.
pub fn check_account_id(id: &str) -> Result<(), String> {
    if id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()) { Ok(()) } else { Err(format!("`{id}` is not a 12-digit AWS account id")) }
}

pub use strake::suggest::{closest, edit_distance};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_and_policy_names() {
        assert!(check_role_name("s3-reader_1+=,.@").is_ok());
        assert!(check_role_name("").is_err());
        assert!(check_role_name(&"a".repeat(65)).unwrap_err().contains("1 to 64"));
        assert!(check_role_name("has space").unwrap_err().contains("` `"));
        assert!(check_policy_name(&"a".repeat(128)).is_ok());
        assert!(check_policy_name("bad/slash").is_err());
    }

    #[test]
    fn paths() {
        assert!(check_iam_path("/").is_ok());
        assert!(check_iam_path("/teams/data/").is_ok());
        assert!(check_iam_path("teams/").unwrap_err().contains("begin and end"));
        assert!(check_iam_path("/a//b/").is_err());
        assert!(check_iam_path("/a b/").is_err());
    }

    #[test]
    fn bucket_names() {
        for ok in ["test-oidc-cross-account-bucket", "a.b.c", "abc", "1bucket"] {
            assert!(check_bucket_name(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("ab", "characters long"),
            ("My-Bucket", "uppercase"),
            ("under_score", "contains `_`"),
            ("-start", "start and end"),
            ("a..b", "`..`"),
            ("192.168.5.4", "IP address"),
            ("xn--abc", "reserved prefix"),
            ("abc-s3alias", "reserved suffix"),
        ] {
            let err = check_bucket_name(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn arns() {
        assert!(check_arn("arn:aws:iam::123456789012:role/s3").is_ok());
        assert!(check_arn("arn:aws:s3:::bucket/*").is_ok());
        assert!(check_arn("arn:aws:iam::aws:policy/ReadOnlyAccess").is_ok());
        assert!(check_arn("bucket/*").unwrap_err().contains("not an ARN"));
        assert!(check_arn("arn:aws:iam::12345:role/x").unwrap_err().contains("12 digits"));
        assert!(check_arn("arn:amazon:iam::123456789012:role/x").unwrap_err().contains("partition"));
        assert_eq!(arn_account("arn:aws:iam::222222222222:oidc-provider/x"), Some("222222222222"));
    }

    #[test]
    fn edit_distances_and_closest() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("GetObjects", "GetObject"), 1);
        assert_eq!(edit_distance("getobject", "GetObject"), 0, "case-insensitive");
        assert_eq!(edit_distance("GetObjetc", "GetObject"), 1, "a transposition is one edit");
        assert_eq!(edit_distance("eu-wset-1", "eu-west-1"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("us-east-7", ["us-east-1", "us-east-2", "eu-west-1"]), Some("us-east-1"), "the first of equals");
        assert_eq!(closest("eu-wset-1", ["us-east-1", "eu-west-1"]), Some("eu-west-1"));
        assert_eq!(closest("zzzzzzzz", ["us-east-1", "eu-west-1"]), None, "nothing close");
    }
}
