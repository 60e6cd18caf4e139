//! How a binary Cachet built is linked, read from its ELF program headers.
//!
//! A static binary (the `scratch` image recipe, `-C target-feature=+crt-static`) has no program
//! interpreter; a dynamically linked one names the dynamic loader its base image must have
//! (`/lib64/ld-linux-x86-64.so.2`). Tests check that, not merely that the binary runs on the
//! host, which has glibc and would run either.

use std::path::Path;

/// `PT_INTERP`: the program header that names the dynamic loader.
const PT_INTERP: u32 = 3;

/// The program interpreter of the 64-bit little-endian ELF file at `path` (x86-64, aarch64),
/// or `None` for a statically linked one. Panics, naming the file, on anything else.
#[track_caller]
pub fn interpreter(path: &Path) -> Option<String> {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    interpreter_of(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `e_machine` of the ELF file at `path`, in words: `x86-64`, `aarch64`, or the number. Reads
/// the architecture from the file itself, never from where it was exported.
#[track_caller]
pub fn machine(path: &Path) -> String {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    machine_of(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn machine_of(bytes: &[u8]) -> Result<String, String> {
    if !bytes.starts_with(b"\x7fELF") || bytes.len() < 0x14 {
        return Err("not an ELF file".into());
    }
    if bytes[5] != 1 {
        return Err("not a little-endian ELF file".into());
    }
    Ok(match u16::from_le_bytes([bytes[0x12], bytes[0x13]]) {
        62 => "x86-64".to_string(),
        183 => "aarch64".to_string(),
        243 => "riscv".to_string(),
        other => format!("machine {other}"),
    })
}

fn interpreter_of(bytes: &[u8]) -> Result<Option<String>, String> {
    let field = |at: usize, len: usize| -> Result<u64, String> {
        let slice = bytes
            .get(at..at + len)
            .ok_or_else(|| format!("truncated at byte {at}"))?;
        Ok(slice
            .iter()
            .rev()
            .fold(0u64, |value, b| (value << 8) | u64::from(*b)))
    };
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF file".into());
    }
    if bytes.get(4..6) != Some(&[2, 1]) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let offset = field(0x20, 8)? as usize;
    let entry_size = field(0x36, 2)? as usize;
    let entries = field(0x38, 2)? as usize;
    for i in 0..entries {
        let header = offset + i * entry_size;
        if field(header, 4)? as u32 != PT_INTERP {
            continue;
        }
        let at = field(header + 8, 8)? as usize;
        let len = field(header + 0x20, 8)? as usize;
        let name = bytes
            .get(at..at + len)
            .ok_or_else(|| "the interpreter's name is past the end".to_string())?;
        let name = name.strip_suffix(&[0]).unwrap_or(name);
        return Ok(Some(String::from_utf8_lossy(name).into_owned()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_is_read_from_the_header() {
        let mut bytes = elf(&[]);
        bytes[0x12..0x14].copy_from_slice(&183u16.to_le_bytes());
        assert_eq!(machine_of(&bytes).unwrap(), "aarch64");
        bytes[0x12..0x14].copy_from_slice(&62u16.to_le_bytes());
        assert_eq!(machine_of(&bytes).unwrap(), "x86-64");
        assert!(machine_of(b"#!/bin/sh\n").is_err());
    }

    /// A minimal ELF64 file with the given program header types; a `PT_INTERP` one names
    /// `/lib/ld.so`.
    fn elf(types: &[u32]) -> Vec<u8> {
        let mut bytes = vec![0u8; 0x40 + 0x38 * types.len()];
        bytes[..6].copy_from_slice(b"\x7fELF\x02\x01");
        bytes[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        bytes[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes());
        bytes[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes());
        let name = b"/lib/ld.so\0";
        let name_at = bytes.len() as u64;
        for (i, kind) in types.iter().enumerate() {
            let header = 0x40 + 0x38 * i;
            bytes[header..header + 4].copy_from_slice(&kind.to_le_bytes());
            bytes[header + 8..header + 16].copy_from_slice(&name_at.to_le_bytes());
            bytes[header + 0x20..header + 0x28].copy_from_slice(&(name.len() as u64).to_le_bytes());
        }
        bytes.extend_from_slice(name);
        bytes
    }

    #[test]
    fn finds_the_interpreter_among_the_program_headers() {
        assert_eq!(
            interpreter_of(&elf(&[6, PT_INTERP, 1])).unwrap().as_deref(),
            Some("/lib/ld.so")
        );
        assert_eq!(interpreter_of(&elf(&[6, 1, 2])).unwrap(), None, "static");
    }

    #[test]
    fn this_test_binary_is_dynamically_linked() {
        let exe = std::env::current_exe().unwrap();
        let interp = interpreter(&exe).expect("cargo links tests dynamically");
        assert!(
            interp.starts_with('/') && interp.contains("ld-"),
            "{interp}"
        );
    }

    #[test]
    fn other_files_are_refused() {
        assert!(interpreter_of(b"#!/bin/sh\n").is_err());
        let mut elf32 = elf(&[]);
        elf32[4] = 1;
        assert!(interpreter_of(&elf32).is_err());
        let truncated = &elf(&[PT_INTERP])[..0x50];
        assert!(interpreter_of(truncated).is_err());
    }
}
