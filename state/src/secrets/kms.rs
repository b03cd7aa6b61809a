//! The AWS KMS key provider: the data key made by `GenerateDataKey` and opened by `Decrypt`, both
//! with an encryption context naming the stack and the key, through the standard AWS chain (and
//! `AWS_ENDPOINT_URL`). One KMS call per run: the store unwraps a stack's key once.

use std::collections::HashMap;

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::{DataKey, KeyProvider, SecretsError, WrappedKey};
use crate::blocking::block_on;

/// A KMS key, named as in `awskms://alias/team-state` or `awskms://<key id or ARN>?region=eu-west-1`.
pub struct AwsKms {
    key: String,
    client: aws_sdk_kms::Client,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for AwsKms {
    fn drop(&mut self) {
        // May be dropped on another runtime, where a blocking shutdown panics.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The encryption context of a stack's data key: a ciphertext of one stack or key does not
/// decrypt as another's.
fn context(stack: &str, key_id: &str) -> HashMap<String, String> {
    HashMap::from([("strake:stack".to_string(), stack.to_string()), ("strake:key-id".to_string(), key_id.to_string())])
}

fn kms_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    what: &str,
    key: &str,
    stack: &str,
    e: SdkError<E, R>,
) -> SecretsError {
    let detail = match &e {
        SdkError::ServiceError(s) => format!("{}: {}", s.err().code().unwrap_or("error"), s.err().message().unwrap_or("(no message)")),
        other => format!("{}", aws_sdk_kms::error::DisplayErrorContext(other)),
    };
    SecretsError(format!("KMS {what} with key `{key}` for the secrets of stack `{stack}` failed: {detail}"))
}

impl AwsKms {
    /// The provider for `url` (`awskms://<key>`, optionally `?region=<region>`), through the
    /// standard AWS chain.
    pub fn new(url: &str) -> Result<AwsKms, SecretsError> {
        let (key, region) = parse_url(url)?;
        let runtime = runtime()?;
        let config = block_on(&runtime, async {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            if let Some(region) = region {
                loader = loader.region(aws_config::Region::new(region));
            }
            loader.load().await
        });
        Ok(AwsKms { key, client: aws_sdk_kms::Client::new(&config), runtime: Some(runtime) })
    }

    /// The provider for `url` with an embedding tool's own AWS configuration.
    pub fn from_config(url: &str, config: &aws_config::SdkConfig) -> Result<AwsKms, SecretsError> {
        let (key, region) = parse_url(url)?;
        let mut builder = aws_sdk_kms::config::Builder::from(config);
        if let Some(region) = region {
            builder = builder.region(aws_config::Region::new(region));
        }
        Ok(AwsKms { key, client: aws_sdk_kms::Client::from_conf(builder.build()), runtime: Some(runtime()?) })
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, SecretsError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("strake-kms")
        .enable_all()
        .build()
        .map_err(|e| SecretsError(format!("cannot start the KMS client: {e}")))
}

/// The key and the region of `awskms://<key>[?region=<region>]`.
fn parse_url(url: &str) -> Result<(String, Option<String>), SecretsError> {
    let rest = url.strip_prefix("awskms://").ok_or_else(|| SecretsError(format!("`{url}` is not a KMS key URL; use `awskms://alias/<name>`")))?;
    let (key, query) = rest.split_once('?').unwrap_or((rest, ""));
    if key.is_empty() {
        return Err(SecretsError(format!("`{url}` names no KMS key; use `awskms://alias/<name>` or `awskms://<key id or ARN>`")));
    }
    let mut region = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("region", r)) if !r.is_empty() => region = Some(r.to_string()),
            _ => return Err(SecretsError(format!("`{url}`: unknown option `{pair}`; the one option is `region=<region>`"))),
        }
    }
    Ok((key.to_string(), region))
}

impl AwsKms {
    /// The record of data key `key_id` wrapped by this KMS key as `blob`.
    fn wrapped(&self, key_id: &str, blob: &Blob) -> WrappedKey {
        WrappedKey {
            provider: self.name().into(),
            key_id: key_id.into(),
            params: serde_json::json!({ "key": self.key }),
            wrapped: B64.encode(blob.as_ref()),
        }
    }

    fn call<F: std::future::Future + Send>(&self, f: F) -> F::Output
    where
        F::Output: Send,
    {
        block_on(self.runtime.as_ref().expect("the runtime lives as long as the provider"), f)
    }
}

impl KeyProvider for AwsKms {
    fn name(&self) -> &str {
        "awskms"
    }

    fn generate(&self, stack: &str) -> Result<(DataKey, WrappedKey), SecretsError> {
        let key_id = uuid::Uuid::new_v4().to_string();
        let request =
            self.client.generate_data_key().key_id(&self.key).key_spec(DataKeySpec::Aes256).set_encryption_context(Some(context(stack, &key_id)));
        let out = self.call(request.send()).map_err(|e| kms_error("GenerateDataKey", &self.key, stack, e))?;
        let key = out
            .plaintext()
            .and_then(|p| DataKey::from_parts(&key_id, p.as_ref()))
            .ok_or_else(|| SecretsError(format!("KMS GenerateDataKey with key `{}` returned no 256-bit key", self.key)))?;
        let blob =
            out.ciphertext_blob().ok_or_else(|| SecretsError(format!("KMS GenerateDataKey with key `{}` returned no ciphertext", self.key)))?;
        Ok((key, self.wrapped(&key_id, blob)))
    }

    fn wrap(&self, stack: &str, key: &DataKey) -> Result<WrappedKey, SecretsError> {
        let request =
            self.client.encrypt().key_id(&self.key).plaintext(Blob::new(key.bytes().to_vec())).set_encryption_context(Some(context(stack, key.id())));
        let out = self.call(request.send()).map_err(|e| kms_error("Encrypt", &self.key, stack, e))?;
        let blob = out.ciphertext_blob().ok_or_else(|| SecretsError(format!("KMS Encrypt with key `{}` returned no ciphertext", self.key)))?;
        Ok(self.wrapped(key.id(), blob))
    }

    fn unwrap(&self, stack: &str, wrapped: &WrappedKey) -> Result<DataKey, SecretsError> {
        let blob = wrapped.sealed_bytes(stack)?;
        // Only the configured key opens it: a key record naming another key (one planted by
        // whoever can write the state) is refused, not decrypted with a key it chose.
        let key = self.key.clone();
        if let Some(wrapped_with) = wrapped.params.get("key").and_then(|k| k.as_str())
            && wrapped_with != key
        {
            return Err(SecretsError(format!(
                "the data key of stack `{stack}` is wrapped with KMS key `{wrapped_with}`, not the configured `{key}`; \
                 set `provider = \"awskms://{wrapped_with}\"`, or move the stack with `secrets change-provider`"
            )));
        }
        let request =
            self.client.decrypt().key_id(&key).ciphertext_blob(Blob::new(blob)).set_encryption_context(Some(context(stack, &wrapped.key_id)));
        let out = self.call(request.send()).map_err(|e| kms_error("Decrypt", &key, stack, e))?;
        out.plaintext()
            .and_then(|p| DataKey::from_parts(&wrapped.key_id, p.as_ref()))
            .ok_or_else(|| SecretsError(format!("KMS Decrypt with key `{key}` for stack `{stack}` returned no 256-bit key")))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn urls_name_a_key_and_maybe_a_region() {
        assert_eq!(parse_url("awskms://alias/team").unwrap(), ("alias/team".into(), None));
        assert_eq!(parse_url("awskms://1234abcd?region=eu-west-1").unwrap(), ("1234abcd".into(), Some("eu-west-1".into())));
        assert!(parse_url("awskms://").is_err());
        assert!(parse_url("kms://alias/x").is_err());
        assert!(parse_url("awskms://alias/x?profile=p").unwrap_err().0.contains("unknown option"));
    }
}
