//! `local:fs:File`: a file on this machine, a resource type the program defines itself. Its id
//! is its path; a new path is another file; new content is written in place; a file edited by
//! hand is drift, and put back.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack};

pub const TYPE: &str = "local:fs:File";

/// What a file is given.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct FileInputs {
    /// The file's path (absolute, or relative to the working directory). Another path is another
    /// file, and one path holds one file: a replacement at the same path removes the old file
    /// first.
    #[strake(replace_on, unique)]
    pub path: String,
    /// The file's content.
    #[strake(default = "")]
    pub content: String,
}

/// What a file has once written; `handle = File` gives `File` a getter per `get` field.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = File)]
pub struct FileOutputs {
    /// The content's SHA-256, in hex.
    #[strake(get)]
    pub sha256: String,
    /// The content's length in bytes.
    #[strake(get)]
    pub size: u64,
}

/// A file with this content.
#[derive(Clone, ResourceHandle)]
pub struct File(Resource);

impl File {
    /// A file at `path` with `content`.
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, path: impl Into<Output<String>>, content: impl Into<Output<String>>) -> File {
        let r = stack.resource(TYPE, name);
        r.set(FileInputs::PATH, path);
        r.set(FileInputs::CONTENT, content);
        File(r.provider(provider))
    }
}

/// The type: its rules, declared, and its four operations.
pub struct FileType;

fn outputs(content: &str) -> FileOutputs {
    let sha256 = Sha256::digest(content.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    FileOutputs { sha256, size: content.len() as u64 }
}

fn failed(what: &str, path: &str, e: std::io::Error) -> ProviderError {
    ProviderError::permanent(format!("{what} `{path}`: {e}"))
}

fn write(path: &str, content: &str) -> Result<FileOutputs, ProviderError> {
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| failed("cannot create the directory of", path, e))?;
    }
    std::fs::write(path, content).map_err(|e| failed("cannot write", path, e))?;
    Ok(outputs(content))
}

impl ResourceType for FileType {
    type Context = ();
    type Inputs = FileInputs;
    type Outputs = FileOutputs;
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs);

    fn check(&self, _: &(), c: &mut Check<FileInputs>) {
        c.validate(FileInputs::PATH, |p| if p.is_empty() || p.ends_with('/') { Err(format!("`{p}` is not a file path")) } else { Ok(()) });
    }

    fn preview(&self, _: &(), inputs: &Partial<FileInputs>, _prior: Option<&Partial<FileOutputs>>) -> Option<Partial<FileOutputs>> {
        Some(Partial::from_typed(&outputs(&inputs.known(FileInputs::CONTENT)?)))
    }

    fn claim(&self, _: &(), inputs: &Partial<FileInputs>) -> Option<String> {
        Some(format!("the file `{}`", inputs.known(FileInputs::PATH)?))
    }

    async fn create(&self, _: &(), req: Create<'_, FileInputs>) -> Result<Created<FileOutputs>, ProviderError> {
        Ok(Created::new(req.inputs.path.clone(), write(&req.inputs.path, &req.inputs.content)?))
    }

    async fn read(&self, _: &(), req: Read<'_, FileInputs, FileOutputs>) -> Result<Option<Observed<FileInputs, FileOutputs>>, ProviderError> {
        let Some(path) = req.id.map(str::to_string).or_else(|| req.inputs.map(|i| i.path.clone())) else { return Ok(None) };
        match std::fs::read_to_string(&path) {
            Ok(content) => Ok(Some(Observed::new(path.clone(), FileInputs { path, content: content.clone() }, outputs(&content)))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed("cannot read", &path, e)),
        }
    }

    async fn update(&self, _: &(), req: Update<'_, FileInputs, FileOutputs>) -> Result<FileOutputs, ProviderError> {
        write(&req.new.path, &req.new.content)
    }

    async fn delete(&self, _: &(), req: Delete<'_, FileInputs, FileOutputs>) -> Result<(), ProviderError> {
        match std::fs::remove_file(req.id) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(failed("cannot delete", req.id, e)),
            _ => Ok(()),
        }
    }
}
