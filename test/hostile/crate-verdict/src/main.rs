//! Prints the safetensors crate's verdict on every file of a folder, one JSON object per line,
//! sorted by file name: {"file": ..., "verdict": "accept" | "reject", "rule": ..., "detail": ...}.
//!
//! The reading code below is huggingface/safetensors `safetensors/src/tensor.rs` (commit 24b0b28,
//! Apache-2.0): `SafeTensors::read_metadata`, `HashMetadata`, `TensorInfo`, `Dtype`,
//! `Metadata::validate`, unchanged except that `let ... else` is spelled as `match` (Debian's
//! rustc 1.63) and the error enum keeps only the variants reading can produce.
use serde::Deserialize;
use std::collections::HashMap;

const MAX_HEADER_SIZE: usize = 100_000_000;
const N_LEN: usize = std::mem::size_of::<u64>();

#[derive(Debug)]
enum SafeTensorError {
    InvalidHeader(std::str::Utf8Error),
    InvalidHeaderDeserialization(serde_json::Error),
    HeaderTooLarge,
    HeaderTooSmall,
    InvalidHeaderLength,
    TensorInvalidInfo,
    InvalidOffset(String),
    MetadataIncompleteBuffer,
    ValidationOverflow,
    MisalignedSlice,
}

impl SafeTensorError {
    fn rule(&self) -> (&'static str, String) {
        use SafeTensorError::*;
        match self {
            InvalidHeader(e) => ("InvalidHeader", e.to_string()),
            InvalidHeaderDeserialization(e) => ("InvalidHeaderDeserialization", e.to_string()),
            HeaderTooLarge => ("HeaderTooLarge", String::new()),
            HeaderTooSmall => ("HeaderTooSmall", String::new()),
            InvalidHeaderLength => ("InvalidHeaderLength", String::new()),
            TensorInvalidInfo => ("TensorInvalidInfo", String::new()),
            InvalidOffset(name) => ("InvalidOffset", name.clone()),
            MetadataIncompleteBuffer => ("MetadataIncompleteBuffer", String::new()),
            ValidationOverflow => ("ValidationOverflow", String::new()),
            MisalignedSlice => ("MisalignedSlice", String::new()),
        }
    }
}

#[allow(dead_code)]
#[derive(Debug, Deserialize, Clone)]
struct TensorInfo {
    dtype: Dtype,
    shape: Vec<usize>,
    data_offsets: (usize, usize),
}

#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Ord, PartialOrd)]
enum Dtype {
    BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ,
    I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64,
}

impl Dtype {
    fn bitsize(&self) -> usize {
        match self {
            Dtype::F4 => 4,
            Dtype::F6_E3M2 | Dtype::F6_E2M3 => 6,
            Dtype::BOOL | Dtype::U8 | Dtype::I8 | Dtype::F8_E5M2 | Dtype::F8_E4M3 | Dtype::F8_E8M0
            | Dtype::F8_E4M3FNUZ | Dtype::F8_E5M2FNUZ => 8,
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::BF16 => 16,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 32,
            Dtype::I64 | Dtype::U64 | Dtype::F64 | Dtype::C64 => 64,
        }
    }
}

#[derive(Deserialize)]
struct HashMetadata {
    #[serde(rename = "__metadata__")]
    metadata: Option<HashMap<String, String>>,
    #[serde(flatten)]
    tensors: HashMap<String, TensorInfo>,
}

struct Metadata {
    #[allow(dead_code)]
    metadata: Option<HashMap<String, String>>,
    tensors: Vec<TensorInfo>,
    index_map: HashMap<String, usize>,
}

impl Metadata {
    fn new(metadata: Option<HashMap<String, String>>, tensors: Vec<(String, TensorInfo)>) -> Result<Self, SafeTensorError> {
        let mut index_map = HashMap::with_capacity(tensors.len());
        let tensors: Vec<_> = tensors
            .into_iter()
            .enumerate()
            .map(|(index, (k, tensor))| {
                index_map.insert(k, index);
                tensor
            })
            .collect();
        let metadata = Self { metadata, tensors, index_map };
        metadata.validate()?;
        Ok(metadata)
    }

    fn validate(&self) -> Result<usize, SafeTensorError> {
        let mut start = 0;
        for (i, info) in self.tensors.iter().enumerate() {
            let (s, e) = info.data_offsets;
            if s != start || e < s {
                let tensor_name = self
                    .index_map
                    .iter()
                    .find_map(|(name, &index)| if index == i { Some(&name[..]) } else { None })
                    .unwrap_or("no_tensor");
                return Err(SafeTensorError::InvalidOffset(tensor_name.to_string()));
            }
            start = e;
            let nelements: usize = info
                .shape
                .iter()
                .copied()
                .try_fold(1usize, usize::checked_mul)
                .ok_or(SafeTensorError::ValidationOverflow)?;
            let nbits = nelements
                .checked_mul(info.dtype.bitsize())
                .ok_or(SafeTensorError::ValidationOverflow)?;
            if nbits % 8 != 0 {
                return Err(SafeTensorError::MisalignedSlice);
            }
            let size = nbits.checked_div(8).ok_or(SafeTensorError::ValidationOverflow)?;
            if e - s != size {
                return Err(SafeTensorError::TensorInvalidInfo);
            }
        }
        Ok(start)
    }
}

impl TryFrom<HashMetadata> for Metadata {
    type Error = SafeTensorError;
    fn try_from(hashdata: HashMetadata) -> Result<Self, Self::Error> {
        let (metadata, tensors) = (hashdata.metadata, hashdata.tensors);
        let mut tensors: Vec<_> = tensors.into_iter().collect();
        tensors.sort_by_key(|(_, left)| left.data_offsets);
        Metadata::new(metadata, tensors)
    }
}

fn read_metadata(buffer: &[u8]) -> Result<(usize, Metadata), SafeTensorError> {
    let buffer_len = buffer.len();
    let header_size_bytes = match buffer.get(..N_LEN) {
        Some(b) => b,
        None => return Err(SafeTensorError::HeaderTooSmall),
    };
    let arr: [u8; N_LEN] = header_size_bytes.try_into().expect("8 bytes");
    let n: usize = u64::from_le_bytes(arr).try_into().map_err(|_| SafeTensorError::HeaderTooLarge)?;
    if n > MAX_HEADER_SIZE {
        return Err(SafeTensorError::HeaderTooLarge);
    }
    let stop = n.checked_add(N_LEN).ok_or(SafeTensorError::InvalidHeaderLength)?;
    let header_bytes = match buffer.get(N_LEN..stop) {
        Some(b) => b,
        None => return Err(SafeTensorError::InvalidHeaderLength),
    };
    let string = std::str::from_utf8(header_bytes).map_err(SafeTensorError::InvalidHeader)?;
    let metadata: HashMetadata = serde_json::from_str(string).map_err(SafeTensorError::InvalidHeaderDeserialization)?;
    let metadata: Metadata = metadata.try_into()?;
    let buffer_end = metadata.validate()?;
    if buffer_end + N_LEN + n != buffer_len {
        return Err(SafeTensorError::MetadataIncompleteBuffer);
    }
    Ok((n, metadata))
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: crate-verdict <corpus folder>");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read the corpus folder")
        .map(|e| e.expect("entry").file_name().into_string().expect("UTF-8 file name"))
        .collect();
    names.sort();
    for name in names {
        let bytes = std::fs::read(std::path::Path::new(&dir).join(&name)).expect("read a corpus file");
        let line = match read_metadata(&bytes) {
            Ok((_, m)) => serde_json::json!({ "file": name, "verdict": "accept", "tensors": m.tensors.len() }),
            Err(e) => {
                let (rule, detail) = e.rule();
                serde_json::json!({ "file": name, "verdict": "reject", "rule": rule, "detail": detail })
            }
        };
        println!("{}", line);
    }
}
