//! Helpers shared by the S3 resources: regional clients, following a bucket to its region,
//! telling our buckets from other accounts', and plan-time rules (keys; regions are `crate::regions`).

use std::future::Future;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use strake::provider::ProviderError;

use crate::context::Aws;
use crate::error::AwsFailure;

/// The partition's default region: buckets there have no `LocationConstraint`.
pub(crate) const US_EAST_1: &str = "us-east-1";

/// The provider's S3 client, or one for `region` when the bucket lives elsewhere.
pub(crate) fn regional(aws: &Aws, region: &str) -> Client {
    if region.is_empty() || region == aws.region {
        return aws.clients.s3.clone();
    }
    Client::from_conf(aws.clients.s3.config().to_builder().region(Region::new(region.to_string())).build())
}

/// The region S3 says a bucket is in, from the `x-amz-bucket-region` header of a response.
fn header_region(raw: Option<&HttpResponse>) -> Option<String> {
    raw.and_then(|r| r.headers().get("x-amz-bucket-region")).filter(|r| !r.is_empty()).map(str::to_string)
}

/// Runs a bucket-scoped call with the provider's client; if S3 answers that the bucket is in
/// another region (a redirect or a wrong-region signature, with `x-amz-bucket-region`), runs it
/// again there. Object and bucket-policy calls do not know the bucket's region up front.
pub(crate) async fn in_bucket_region<T, E, F, Fut>(aws: &Aws, call: F) -> Result<T, SdkError<E, HttpResponse>>
where
    F: Fn(Client) -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    match call(aws.clients.s3.clone()).await {
        Err(e) => match header_region(e.raw_response()).filter(|r| *r != aws.region) {
            Some(region) => call(regional(aws, &region)).await,
            None => Err(e),
        },
        ok => ok,
    }
}

/// Who has a bucket name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// No bucket has this name (in this partition).
    Nobody,
    /// A bucket of the provider's account, in this region.
    Us { region: String },
    /// A bucket this account does not own (or may not see): names are global.
    Other,
}

/// Finds out who owns bucket `name`: HeadBucket (with `ExpectedBucketOwner`, so AWS answers 403
/// for another account's bucket), then, when it answers 200, ListBuckets confirms the bucket is
/// ours (an emulator, or a bucket policy granting us access, can make another account's bucket
/// answer 200). `region_hint` is where to ask first.
pub(crate) async fn owner(aws: &Aws, name: &str, region_hint: &str) -> Result<Owner, ProviderError> {
    let head = regional(aws, region_hint).head_bucket().bucket(name).expected_bucket_owner(&aws.caller.account).send().await;
    let region = match head {
        Ok(out) => out.bucket_region().unwrap_or(region_hint).to_string(),
        Err(e) => {
            let region = header_region(e.raw_response());
            let f = AwsFailure::from(e);
            match (f.status, region) {
                (Some(404), _) => return Ok(Owner::Nobody),
                (Some(403), _) => return Ok(Owner::Other),
                // Asked in the wrong region: it exists there; confirm it is ours below.
                (Some(301 | 400), Some(region)) => region,
                _ => return Err(f.into_error("s3:HeadBucket")),
            }
        }
    };
    match listed_region(aws, name).await {
        Ok(Some(listed)) => Ok(Owner::Us { region: listed.unwrap_or(region) }),
        Ok(None) => Ok(Owner::Other),
        // Without s3:ListAllMyBuckets, trust HeadBucket's ExpectedBucketOwner check.
        Err(f) if f.status == Some(403) => Ok(Owner::Us { region }),
        Err(f) => Err(f.into_error("s3:ListBuckets")),
    }
}

/// Whether our account's bucket list has `name`, and its region if S3 says. The list is read
/// once per configured provider (so once per plan, not once per bucket) and kept up to date by
/// this provider's creates and deletes; a name missing from it is looked up once more before
/// it counts as someone else's.
async fn listed_region(aws: &Aws, name: &str) -> Result<Option<Option<String>>, AwsFailure> {
    let mut listing = aws.buckets.lock().await;
    for fresh in [false, true] {
        if fresh || listing.is_none() {
            *listing = Some(list_buckets(aws).await?);
        }
        if let Some(found) = listing.as_ref().and_then(|l| l.get(name)) {
            return Ok(Some(found.clone()));
        }
    }
    Ok(None)
}

/// Every bucket of the account, with its region when S3 says.
async fn list_buckets(aws: &Aws) -> Result<BucketListing, AwsFailure> {
    let mut all = BucketListing::new();
    let mut token: Option<String> = None;
    loop {
        let out = aws.clients.s3.list_buckets().set_continuation_token(token.clone()).send().await.map_err(AwsFailure::from)?;
        all.extend(out.buckets().iter().filter_map(|b| Some((b.name()?.to_string(), b.bucket_region().map(str::to_string)))));
        match out.continuation_token() {
            Some(t) if !t.is_empty() && token.as_deref() != Some(t) => token = Some(t.to_string()),
            _ => return Ok(all),
        }
    }
}

/// The account's buckets by name, with their regions when known.
pub(crate) type BucketListing = std::collections::HashMap<String, Option<String>>;

/// Records that this provider made (`Some(region)`) or deleted (`None`) bucket `name`.
pub(crate) async fn note_bucket(aws: &Aws, name: &str, made_in: Option<&str>) {
    if let Some(listing) = aws.buckets.lock().await.as_mut() {
        match made_in {
            Some(region) => listing.insert(name.to_string(), Some(region.to_string())),
            None => listing.remove(name),
        };
    }
}

/// S3 object keys: 1 to 1,024 bytes of UTF-8.
pub(crate) fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 1024 {
        return Err(format!("is {} bytes long; object keys are 1 to 1,024 bytes of UTF-8 (e.g. \"config/app.json\")", key.len()));
    }
    Ok(())
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(check_key("a/b.txt").is_ok());
        assert!(check_key("").unwrap_err().contains("1 to 1,024"));
        assert!(check_key(&"k".repeat(1025)).is_err());
    }
}
