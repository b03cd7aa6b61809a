//! AWS region names: their syntax, and the regions that exist, so that a misspelt or made-up
//! region (`eu-wset-1`, `us-east-7`) fails at plan time with the region meant, instead of as a
//! DNS failure or a wrong-region error halfway through an apply.
//!
//! [`REGIONS`] is the one list of regions Strake knows, as of [`AS_OF`]: the commercial (`aws`),
//! China (`aws-cn`) and GovCloud (`aws-us-gov`) partitions, plus the isolated partitions' and the
//! European Sovereign Cloud's regions so that their users are not refused. It matches the
//! partitions table of the AWS SDK for Rust this workspace builds with (`aws-sdk-s3` 1.157.0,
//! `endpoint_lib.rs`). When AWS opens a region, add it here.
//!
//! A provider with a custom `endpoint` (an emulator, or a region newer than this list reached
//! through its endpoint) is exempt from the existence check: only the syntax is checked then.

use crate::validate::closest;

/// When [`REGIONS`] was last brought up to date.
pub const AS_OF: &str = "2026-12-01";

/// Every region Strake knows (see the module documentation), by partition.
pub const REGIONS: &[&str] = &[
    // Commercial (`aws`).
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    // China (`aws-cn`).
    "cn-north-1",
    "cn-northwest-1",
    // GovCloud (`aws-us-gov`).
    "us-gov-east-1",
    "us-gov-west-1",
    // Isolated partitions (`aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f`).
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-isob-west-1",
    "eu-isoe-west-1",
    "us-isof-east-1",
    "us-isof-south-1",
    // European Sovereign Cloud (`aws-eusc`).
    "eusc-de-east-1",
];

/// Whether `region` is one of [`REGIONS`].
pub fn is_known(region: &str) -> bool {
    REGIONS.contains(&region)
}

/// The known region closest to a misspelt one, for "did you mean".
pub fn closest_region(region: &str) -> Option<&'static str> {
    closest(region, REGIONS.iter().copied())
}

/// Region syntax: lowercase words joined by hyphens, the first of two letters, ending in a number
/// (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`).
pub fn check_syntax(region: &str) -> Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = is_known(region)
        || (parts.len() >= 3
            && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
            && parts[0].len() == 2
            && parts.last().is_some_and(|n| !n.is_empty() && n.len() <= 2 && n.chars().all(|c| c.is_ascii_digit())));
    if ok {
        Ok(())
    } else {
        let hint = closest_region(&region.to_ascii_lowercase().replace('_', "-")).map(|r| format!("did you mean \"{r}\"? ")).unwrap_or_default();
        Err(format!("`{region}` is not an AWS region name; {hint}use one like \"us-east-1\" or \"eu-west-1\""))
    }
}

/// A region's syntax and, unless `endpoint` is set (a custom endpoint: an emulator, or a region
/// newer than [`REGIONS`] reached through it), that it exists.
pub fn check_region(region: &str, endpoint: Option<&str>) -> Result<(), String> {
    check_syntax(region)?;
    if endpoint.is_some() || is_known(region) {
        return Ok(());
    }
    let hint = closest_region(region).map(|r| format!("did you mean \"{r}\"? ")).unwrap_or_default();
    Err(format!(
        "`{region}` is not an AWS region; {hint}(Strake's list of regions is from {AS_OF}: for a region newer than that, \
         set the provider's `endpoint` to reach it, which skips this check)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_the_well_known_regions_once_each() {
        for r in ["us-east-1", "eu-west-1", "ap-southeast-7", "mx-central-1", "cn-northwest-1", "us-gov-west-1", "il-central-1", "ca-west-1"] {
            assert!(is_known(r), "{r}");
        }
        let mut unique = REGIONS.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), REGIONS.len(), "no duplicates");
        for r in REGIONS {
            assert!(check_region(r, None).is_ok(), "{r}");
        }
    }

    #[test]
    fn syntax() {
        for ok in ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "il-central-1", "eusc-de-east-1", "xx-made-up-9"] {
            assert!(check_syntax(ok).is_ok(), "{ok}");
        }
        for bad in ["", "us-east", "US-EAST-1", "useast1", "eu-west-100", "europe-west-1", "us_east_1"] {
            let err = check_syntax(bad).unwrap_err();
            assert!(err.contains("is not an AWS region name"), "{bad}: {err}");
        }
        assert!(check_syntax("us_east_1").unwrap_err().contains("did you mean \"us-east-1\"?"));
        assert!(check_syntax("US-EAST-1").unwrap_err().contains("did you mean \"us-east-1\"?"));
    }

    #[test]
    fn regions_that_do_not_exist_are_refused_with_the_closest_one() {
        let err = check_region("us-east-7", None).unwrap_err();
        assert!(err.contains("`us-east-7` is not an AWS region; did you mean \"us-east-1\"?"), "{err}");
        assert!(err.contains(AS_OF) && err.contains("set the provider's `endpoint`"), "{err}");
        let err = check_region("eu-wset-1", None).unwrap_err();
        assert!(err.contains("did you mean \"eu-west-1\"?"), "{err}");
        let err = check_region("zz-nowhere-9", None).unwrap_err();
        assert!(!err.contains("did you mean"), "nothing close: {err}");
        // A custom endpoint (an emulator, a new region) skips the existence check, not the syntax.
        assert!(check_region("us-east-7", Some("http://localhost:5000")).is_ok());
        assert!(check_region("not a region", Some("http://localhost:5000")).is_err());
    }
}
