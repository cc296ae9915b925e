//! Files people attach: checked before anything is written.

use crate::kernel::AppResult;
use orion_domain::FieldErrors;

/// A file a person attached in a web form.
#[derive(Debug, Clone)]
pub struct Upload {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Most files one comment may carry, the largest one, and the most in all.
pub const MAX_FILES: usize = 10;
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
pub const MAX_FILES_TOTAL: usize = 25 * 1024 * 1024;

/// Checks files before anything is written: how many, how large, named.
pub fn check_uploads(files: &[Upload]) -> AppResult<()> {
    let mut errs = FieldErrors::new();
    push_upload_errors(&mut errs, files);
    Ok(errs.into_result()?)
}

pub(crate) fn push_upload_errors(errs: &mut FieldErrors, files: &[Upload]) {
    if files.len() > MAX_FILES {
        errs.push("attachments", format!("at most {MAX_FILES} files"));
    }
    if files.iter().map(|f| f.bytes.len()).sum::<usize>() > MAX_FILES_TOTAL {
        errs.push("attachments", format!("at most {} MiB in all", MAX_FILES_TOTAL >> 20));
    }
    for f in files {
        if f.bytes.len() > MAX_FILE_BYTES {
            errs.push("attachments", format!("{} is larger than {} MiB", f.filename, MAX_FILE_BYTES >> 20));
        }
        if f.filename.trim().is_empty() || f.filename.chars().count() > 255 {
            errs.push("attachments", "every file needs a name of at most 255 characters");
        }
    }
}

/// A stored attachment, as downloaded.
pub struct AttachmentFile {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}
