//! `aws:s3:Bucket`: an S3 general-purpose bucket with its region and tags.
//!
//! Bucket names are global across all AWS accounts, so the name is required (a generated one
//! would hide that it can be taken). Creating checks who has the name first: a bucket of ours
//! that Strake does not record (another stack, made by hand) is never silently adopted, and
//! another account's bucket is reported as such.

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Delete as DeleteBatch, ObjectIdentifier, Tag, Tagging};
use serde::{Deserialize, Serialize};
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;
use strake::{Resource, ResourceHandle};

use super::shared::{Owner, US_EAST_1, note_bucket, owner, regional};
use crate::context::Aws;
use crate::error::{AwsFailure, aws_error, found, not_an_arn};
use crate::regions::check_region;
use crate::resources::{Tags, check_tags, read_tags};
use crate::validate::check_bucket_name;

/// The type token of an S3 bucket.
pub const TYPE: &str = "aws:s3:Bucket";

/// S3 allows at most this many tags on a bucket.
const MAX_TAGS: usize = 50;

/// The inputs of a bucket.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = Bucket, resource = TYPE)]
pub struct BucketInputs {
    /// The bucket's name (names are global across AWS accounts, so pick a unique one). Moving a
    /// bucket to another region under the same name deletes it first.
    #[strake(new, replace_on, unique)]
    pub bucket: String,
    /// The region to create the bucket in (default: the provider's region at creation; a later
    /// change of the provider's region leaves existing buckets where they are). Changing it
    /// replaces the bucket.
    #[strake(set, replace_on)]
    pub region: String,
    /// Delete every object (and object version) when the bucket is deleted. Off by default: then
    /// deleting a bucket that still has objects fails and nothing is lost. Takes effect once
    /// applied, so set it (and apply) before destroying. Strake's own setting.
    #[strake(default = false, set)]
    pub force_destroy: bool,
    /// The bucket's tags.
    #[strake(set, pairs)]
    pub tags: Option<Tags>,
}

/// The outputs of a bucket.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = Bucket)]
pub struct BucketOutputs {
    /// `arn:aws:s3:::<name>`, known at plan time when the name is.
    #[strake(get)]
    pub arn: String,
    /// The bucket's name (its id).
    #[strake(get)]
    pub name: String,
    /// The bucket's region.
    #[strake(get = "bucket_region", echo)]
    pub region: String,
    /// `<name>.s3.amazonaws.com`.
    #[strake(get)]
    pub bucket_domain_name: String,
}

/// An S3 bucket. The name is required (names are global); the region defaults to the provider's.
#[derive(Clone, ResourceHandle)]
pub struct Bucket(Resource);

pub(crate) struct BucketType;

fn outputs(name: &str, region: &str) -> BucketOutputs {
    BucketOutputs {
        arn: format!("arn:aws:s3:::{name}"),
        name: name.to_string(),
        region: region.to_string(),
        bucket_domain_name: format!("{name}.s3.amazonaws.com"),
    }
}

fn tagging(tags: &Tags) -> Result<Tagging, ProviderError> {
    let set = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProviderError::permanent(e.to_string()))?;
    Tagging::builder().set_tag_set(Some(set)).build().map_err(|e| ProviderError::permanent(e.to_string()))
}

fn taken_elsewhere(name: &str) -> String {
    format!(
        "the bucket name `{name}` is taken by another AWS account (bucket names are global across all accounts), \
         or these credentials may not access it; choose another name"
    )
}

fn ours_already(name: &str, account: &str) -> String {
    format!(
        "a bucket named `{name}` already exists in account {account} but is not this resource's (another stack, or made \
         outside Strake); choose another name, or adopt it with `import` (id `{name}`)"
    )
}

/// The bucket's current tags (none: S3 answers NoSuchTagSet).
async fn current_tags(client: &aws_sdk_s3::Client, name: &str) -> Result<Vec<(String, String)>, AwsFailure> {
    match client.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => Ok(out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()),
        Err(e) => {
            let f = AwsFailure::from(e);
            if f.has_code("NoSuchTagSet") { Ok(Vec::new()) } else { Err(f) }
        }
    }
}

/// Deletes every object version and delete marker, then any plain objects left.
async fn empty_bucket(client: &aws_sdk_s3::Client, name: &str) -> Result<usize, ProviderError> {
    let mut deleted = 0;
    loop {
        let out = client.list_object_versions().bucket(name).send().await.map_err(aws_error("s3:ListObjectVersions"))?;
        let mut ids: Vec<ObjectIdentifier> = Vec::new();
        for v in out.versions() {
            ids.extend(v.key().and_then(|k| ObjectIdentifier::builder().key(k).set_version_id(v.version_id().map(str::to_string)).build().ok()));
        }
        for m in out.delete_markers() {
            ids.extend(m.key().and_then(|k| ObjectIdentifier::builder().key(k).set_version_id(m.version_id().map(str::to_string)).build().ok()));
        }
        if ids.is_empty() {
            break;
        }
        deleted += delete_objects(client, name, ids).await?;
    }
    loop {
        let out = client.list_objects_v2().bucket(name).send().await.map_err(aws_error("s3:ListObjectsV2"))?;
        let ids: Vec<ObjectIdentifier> =
            out.contents().iter().filter_map(|o| o.key()).filter_map(|k| ObjectIdentifier::builder().key(k).build().ok()).collect();
        if ids.is_empty() {
            break;
        }
        deleted += delete_objects(client, name, ids).await?;
    }
    Ok(deleted)
}

/// DeleteObjects in batches of 1,000 (the API's limit); any per-object error fails the delete.
async fn delete_objects(client: &aws_sdk_s3::Client, name: &str, ids: Vec<ObjectIdentifier>) -> Result<usize, ProviderError> {
    let mut count = 0;
    for chunk in ids.chunks(1000) {
        let delete =
            DeleteBatch::builder().set_objects(Some(chunk.to_vec())).quiet(true).build().map_err(|e| ProviderError::permanent(e.to_string()))?;
        let out = client.delete_objects().bucket(name).delete(delete).send().await.map_err(aws_error("s3:DeleteObjects"))?;
        if let Some(e) = out.errors().first() {
            return Err(ProviderError::permanent(format!(
                "s3:DeleteObjects: emptying bucket `{name}` failed on `{}`: {} {}",
                e.key().unwrap_or_default(),
                e.code().unwrap_or_default(),
                e.message().unwrap_or_default()
            )));
        }
        count += chunk.len();
    }
    Ok(count)
}

impl ResourceType for BucketType {
    type Context = Aws;
    type Inputs = BucketInputs;
    type Outputs = BucketOutputs;
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs);

    fn check(&self, aws: &Aws, c: &mut Check<BucketInputs>) {
        c.validate(BucketInputs::BUCKET, |b| check_bucket_name(b));
        // The default is the provider's region when the bucket is created; afterwards the
        // recorded one, so changing the provider's region never plans replacing buckets.
        c.default_or_prior(BucketInputs::REGION, || Some(aws.region.clone()).filter(|r| !r.is_empty()));
        if !c.inputs().is_set(BucketInputs::REGION) {
            c.fail(BucketInputs::REGION, "is not set and the provider has no region; set the bucket's region or the provider's");
        }
        // A provider with a custom endpoint (an emulator, a new region) may name any region.
        c.validate(BucketInputs::REGION, |r| check_region(r, aws.endpoint.as_deref()));
        check_tags(c, BucketInputs::TAGS, Some(MAX_TAGS));
    }

    fn preview(&self, _aws: &Aws, inputs: &Partial<BucketInputs>, _prior: Option<&Partial<BucketOutputs>>) -> Option<Partial<BucketOutputs>> {
        // The region is the input's (`echo`).
        inputs.known(BucketInputs::BUCKET).map(|name| Partial::from_typed(&outputs(&name, "")))
    }

    fn claim(&self, _aws: &Aws, inputs: &Partial<BucketInputs>) -> Option<String> {
        Some(format!("S3 bucket `{}`", inputs.known(BucketInputs::BUCKET)?))
    }

    async fn create(&self, aws: &Aws, req: Create<'_, BucketInputs>) -> Result<Created<BucketOutputs>, ProviderError> {
        let (name, region) = (req.inputs.bucket.as_str(), req.inputs.region.as_str());
        match owner(aws, name, region).await? {
            Owner::Nobody => {}
            // us-east-1 answers CreateBucket for a bucket we own with 200, which would adopt it.
            Owner::Us { .. } => return Err(ProviderError::coded("BucketAlreadyOwnedByYou", ours_already(name, &aws.caller.account))),
            Owner::Other => return Err(ProviderError::coded("BucketAlreadyExists", taken_elsewhere(name))),
        }
        let client = regional(aws, region);
        let config =
            (region != US_EAST_1).then(|| CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build());
        client.create_bucket().bucket(name).set_create_bucket_configuration(config).send().await.map_err(|e| {
            aws_error("s3:CreateBucket")(e)
                .advise("BucketAlreadyExists", || format!("; {}", taken_elsewhere(name)))
                .advise("BucketAlreadyOwnedByYou", || format!("; {}", ours_already(name, &aws.caller.account)))
                .advise("InvalidBucketName", || format!(" (`{name}`)"))
        })?;
        note_bucket(aws, name, Some(region)).await;
        if let Some(tags) = req.inputs.tags.as_ref().filter(|t| !t.is_empty()) {
            let tagged = client.put_bucket_tagging().bucket(name).tagging(tagging(tags)?).send().await;
            if let Err(e) = tagged {
                let err = aws_error("s3:PutBucketTagging")(e);
                // Undo the create so a retry (or the next apply) starts from nothing. If the undo
                // fails too, the bucket exists: the error says the create may have acted, so the
                // engine reads it back and adopts it (its tags are then drift, put right next).
                return Err(match client.delete_bucket().bucket(name).send().await {
                    Ok(_) => {
                        note_bucket(aws, name, None).await;
                        err
                    }
                    Err(undo) => {
                        let undo = aws_error("s3:DeleteBucket")(undo);
                        let mut err = err.ambiguous();
                        err.message.push_str(&format!("; the bucket was created, and deleting it again failed too ({undo})"));
                        err
                    }
                });
            }
        }
        Ok(Created::new(name, outputs(name, region)))
    }

    async fn read(
        &self,
        aws: &Aws,
        req: Read<'_, BucketInputs, BucketOutputs>,
    ) -> Result<Option<Observed<BucketInputs, BucketOutputs>>, ProviderError> {
        let Some(name) = req.locate(|id| not_an_arn(id, TYPE, "the bucket's name"), |i| i.bucket.clone())? else { return Ok(None) };
        let hint = req.inputs.map(|i| i.region.clone()).unwrap_or_else(|| aws.region.clone());
        let region = match owner(aws, &name, &hint).await? {
            Owner::Nobody => return Ok(None),
            Owner::Us { region } => region,
            Owner::Other if req.id.is_none() => return Err(ProviderError::coded("BucketAlreadyExists", taken_elsewhere(&name))),
            Owner::Other => {
                return Err(ProviderError::coded(
                    "AccessDenied",
                    format!(
                        "bucket `{name}` exists but account {} cannot see it as its own: it was deleted and its name taken by \
                         another account, or these credentials lack s3:ListBucket; if it is gone for good, `state rm` this resource",
                        aws.caller.account
                    ),
                ));
            }
        };
        let client = regional(aws, &region);
        let tags = current_tags(&client, &name).await.map_err(|f| f.into_error("s3:GetBucketTagging"))?;
        let inputs = BucketInputs {
            bucket: name.clone(),
            region: region.clone(),
            // Not an AWS property: Strake's own setting, kept as recorded.
            force_destroy: req.inputs.is_some_and(|i| i.force_destroy),
            tags: read_tags(req.inputs.and_then(|i| i.tags.as_ref()), tags.into_iter().collect()),
        };
        Ok(Some(Observed::new(name.clone(), inputs, outputs(&name, &region))))
    }

    async fn update(&self, aws: &Aws, req: Update<'_, BucketInputs, BucketOutputs>) -> Result<BucketOutputs, ProviderError> {
        let name = req.id;
        let client = regional(aws, &req.new.region);
        if req.changed(BucketInputs::TAGS) {
            match req.new.tags.as_ref().filter(|t| !t.is_empty()) {
                None => client.delete_bucket_tagging().bucket(name).send().await.map(drop).map_err(aws_error("s3:DeleteBucketTagging"))?,
                Some(tags) => client
                    .put_bucket_tagging()
                    .bucket(name)
                    .tagging(tagging(tags)?)
                    .send()
                    .await
                    .map(drop)
                    .map_err(aws_error("s3:PutBucketTagging"))?,
            }
        }
        Ok(outputs(name, &req.new.region))
    }

    async fn delete(&self, aws: &Aws, req: Delete<'_, BucketInputs, BucketOutputs>) -> Result<(), ProviderError> {
        let name = req.id;
        let client = regional(aws, &req.inputs.region);
        if req.inputs.force_destroy {
            match empty_bucket(&client, name).await {
                Ok(_) => {}
                Err(e) if e.has_code("NoSuchBucket") => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        found(client.delete_bucket().bucket(name).send().await, "s3:DeleteBucket").map_err(|e| {
            e.advise("BucketNotEmpty", || {
                format!(
                    "; bucket `{name}` is not empty, so it was not deleted (nor its objects): empty it first, or set \
                     `force_destroy(true)` on it and apply before deleting it to delete its objects with it"
                )
            })
        })?;
        note_bucket(aws, name, None).await;
        Ok(())
    }
}
