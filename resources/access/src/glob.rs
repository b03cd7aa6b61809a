//! IAM wildcard matching: `*` (any run of characters) and `?` (exactly one), in actions, resources,
//! `StringLike` values and ARN patterns.

/// One element of a pattern: a literal character or a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A character matched as itself.
    Lit(char),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A pattern's tokens: `*` and `?` are wildcards when `wildcards` is set, literal otherwise.
pub(crate) fn tokens(pattern: &str, wildcards: bool) -> Vec<Tok> {
    pattern
        .chars()
        .map(|c| match c {
            '*' if wildcards => Tok::Star,
            '?' if wildcards => Tok::One,
            c => Tok::Lit(c),
        })
        .collect()
}

fn same_char(a: char, b: char, ignore_case: bool) -> bool {
    a == b || (ignore_case && a.to_lowercase().eq(b.to_lowercase()))
}

/// Whether `pattern` matches the whole of `text`.
pub(crate) fn matches(pattern: &[Tok], text: &str, ignore_case: bool) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // The last `*` seen, and the text position it currently stops at: on a mismatch it swallows one more character.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
            }
            Some(Tok::Lit(c)) if same_char(*c, text[t], ignore_case) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    p = sp + 1;
                    t = st + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|tok| *tok == Tok::Star)
}

/// Splits a pattern at its first five literal colons: the six parts of an ARN
/// (`arn`, partition, service, region, account, resource), the last keeping any further colons.
fn arn_segments(pattern: &[Tok]) -> Vec<&[Tok]> {
    let mut segments = Vec::with_capacity(6);
    let mut start = 0;
    for (i, tok) in pattern.iter().enumerate() {
        if segments.len() == 5 {
            break;
        }
        if *tok == Tok::Lit(':') {
            segments.push(&pattern[start..i]);
            start = i + 1;
        }
    }
    segments.push(&pattern[start..]);
    segments
}

/// ARN matching as `ArnLike` does it: each of the six colon-separated parts is matched on its own,
/// so a wildcard never spans a colon between them. When either side is not a six-part ARN, the whole
/// strings are matched as one glob (so `*` alone matches any ARN).
pub(crate) fn arn_matches_tokens(pattern: &[Tok], arn: &str) -> bool {
    let pattern_parts = arn_segments(pattern);
    let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
    if pattern_parts.len() != 6 || arn_parts.len() != 6 {
        return matches(pattern, arn, false);
    }
    pattern_parts.iter().zip(&arn_parts).all(|(p, a)| matches(p, a, false))
}

/// IAM's wildcard match: `*` any run, `?` one character; case-sensitive.
///
/// ```
/// assert!(strake_access::glob("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b"));
/// assert!(!strake_access::glob("arn:aws:s3:::bucket/*", "arn:aws:s3:::Bucket/a"));
/// ```
pub fn glob(pattern: &str, text: &str) -> bool {
    matches(&tokens(pattern, true), text, false)
}

/// Whether an action pattern ("s3:Get*", "*") covers an action; case-insensitive.
///
/// ```
/// assert!(strake_access::action_matches("s3:get*", "s3:GetObject"));
/// assert!(!strake_access::action_matches("s3:Get*", "s3:PutObject"));
/// ```
pub fn action_matches(pattern: &str, action: &str) -> bool {
    matches(&tokens(pattern, true), action, true)
}

/// Whether an ARN pattern covers an ARN the way `ArnLike` compares them: each of the six
/// colon-separated parts is a case-sensitive glob of its own.
///
/// ```
/// assert!(strake_access::arn_matches("arn:aws:iam::*:role/ci-*", "arn:aws:iam::111111111111:role/ci-deploy"));
/// assert!(!strake_access::arn_matches("arn:aws:iam::*:role/ci-*", "arn:aws:iam::111111111111:user/ci-deploy"));
/// ```
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    arn_matches_tokens(&tokens(pattern, true), arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question_mark() {
        assert!(glob("*", ""));
        assert!(glob("*", "anything at all"));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a*c", "ac"));
        assert!(!glob("a*c", "acb"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*b*b*", "abcbd"));
        assert!(!glob("*b*b*", "abcd"));
        assert!(glob("a**", "a"));
        assert!(!glob("", "a"));
        assert!(glob("", ""));
    }

    #[test]
    fn backtracking_after_a_partial_match() {
        assert!(glob("*ab", "aab"));
        assert!(glob("*aab", "aaab"));
        assert!(glob("bucket/*/key", "bucket/x/key/y/key"));
        assert!(!glob("bucket/*/key", "bucket/x/keys"));
    }

    #[test]
    fn glob_is_case_sensitive_but_actions_are_not() {
        assert!(!glob("arn:aws:s3:::Bucket", "arn:aws:s3:::bucket"));
        assert!(action_matches("S3:GETOBJECT", "s3:GetObject"));
        assert!(action_matches("iam:*", "IAM:PassRole"));
        assert!(!action_matches("s3:Get*", "s3:ListBucket"));
        assert!(action_matches("s3:?etObject", "s3:GetObject"));
    }

    #[test]
    fn literal_tokens_ignore_wildcards() {
        let literal = tokens("system:serviceaccount:*", false);
        assert!(!matches(&literal, "system:serviceaccount:ns:sa", false));
        assert!(matches(&literal, "system:serviceaccount:*", false));
    }

    #[test]
    fn multibyte_characters_count_as_one() {
        assert!(glob("caf?", "café"));
        assert!(glob("*é", "café"));
    }

    #[test]
    fn arn_segments_do_not_let_a_wildcard_span_colons() {
        assert!(arn_matches("arn:aws:iam::111111111111:role/*", "arn:aws:iam::111111111111:role/a/b"));
        assert!(arn_matches("arn:aws:*:*:*:*", "arn:aws:s3:::bucket"));
        assert!(arn_matches("arn:*:iam::111111111111:role/x", "arn:aws-cn:iam::111111111111:role/x"));
        // As a plain glob the star would swallow "aws:x"; per part, it stays within the partition.
        assert!(glob("arn:*:iam::111111111111:role/x", "arn:aws:x:iam::111111111111:role/x"));
        assert!(!arn_matches("arn:*:iam::111111111111:role/x", "arn:aws:x:iam::111111111111:role/x"));
        assert!(!arn_matches("arn:aws:iam::222222222222:role/x", "arn:aws:iam::111111111111:role/x"));
    }

    #[test]
    fn arn_resource_part_keeps_its_colons() {
        assert!(arn_matches("arn:aws:logs:us-east-1:111111111111:log-group:app:*", "arn:aws:logs:us-east-1:111111111111:log-group:app:log-stream:x"));
        assert!(!arn_matches("arn:aws:logs:us-east-1:111111111111:log-group:app", "arn:aws:logs:us-east-1:111111111111:log-group:app:x"));
    }

    #[test]
    fn non_arns_fall_back_to_whole_glob() {
        assert!(arn_matches("*", "arn:aws:s3:::bucket"));
        assert!(arn_matches("arn:aws:iam::*", "arn:aws:iam::111111111111:role/x"));
        assert!(!arn_matches("arn:aws:iam::1*", "arn:aws:iam::222222222222:role/x"));
        assert!(arn_matches("vpc-*", "vpc-1"));
    }
}
