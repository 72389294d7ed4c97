//! Conformance adapter (conformance/PROTOCOL.md, protocol 2) for vasi/qcow2-rs,
//! a read-only qcow2 v3 library. Built by ../build.sh; not part of qcow2ref.
//!
//! Exit codes: 0 answer on stdout; 65 the library refused the image
//! (`error: <class>: <message>` on stderr); 69 the library reported an
//! unsupported feature or the command is not implemented; 64 usage error.
//! A panic in the library is not caught: Rust exits 101 (a CRASH to the runner).
use std::fs::File;
use std::io::{self, Write};
use std::process::exit;

use positioned_io::ReadAt;
use qcow2::{Error, Qcow2};

// Adapter protocol 2 exit codes (sysexits.h): any other status is a crash.
const EX_REJECTED: i32 = 65;
const EX_UNSUPPORTED: i32 = 69;
const EX_USAGE: i32 = 64;

const FEATURES: &[&str] = &[
    "v3",
    "refcount_order_0", "refcount_order_1", "refcount_order_2", "refcount_order_3",
    "refcount_order_4", "refcount_order_5", "refcount_order_6",
];

fn usage(msg: &str) -> ! {
    eprintln!("error: usage: {}", msg);
    exit(EX_USAGE)
}

fn fail(e: &Error) -> ! {
    let (code, class) = match e {
        Error::UnsupportedFeature(_) | Error::Version(_) => (EX_UNSUPPORTED, "unsupported"),
        Error::Io(_) => (EX_REJECTED, "range"),
        Error::FileType => (EX_REJECTED, "header"),
        _ => (EX_REJECTED, "metadata"),
    };
    eprintln!("error: {}: {}", class, e);
    exit(code)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        usage("no command");
    }
    let cmd = args[0].as_str();
    let (mut image, mut offset, mut length, mut snapshot, mut secret) = (None, None, None, None, None);
    let mut i = 1;
    while i < args.len() {
        if i + 1 >= args.len() {
            usage(&format!("option {} needs a value", args[i]));
        }
        let v = args[i + 1].clone();
        match args[i].as_str() {
            "--image" => image = Some(v),
            "--offset" => offset = Some(v.parse::<u64>().unwrap_or_else(|_| usage("bad --offset"))),
            "--length" => length = Some(v.parse::<u64>().unwrap_or_else(|_| usage("bad --length"))),
            "--snapshot" => snapshot = Some(v),
            "--secret-file" => secret = Some(v),
            o => usage(&format!("unknown option {}", o)),
        }
        i += 2;
    }
    match cmd {
        "capabilities" => {
            let feats: Vec<String> = FEATURES.iter().map(|f| format!("\"{}\"", f)).collect();
            println!(
                "{{\"protocol\": 2, \"name\": \"vasi-qcow2-rs\", \"version\": \"0.1.2\", \
                 \"commands\": [\"capabilities\", \"read\"], \"features\": [{}]}}",
                feats.join(", ")
            );
            return;
        }
        "read" => {}
        c => {
            eprintln!("error: unsupported: command {}", c);
            exit(EX_UNSUPPORTED)
        }
    }
    let image = image.unwrap_or_else(|| usage("--image is required"));
    if snapshot.is_some() {
        eprintln!("error: unsupported: qcow2-rs reads only the active image");
        exit(EX_UNSUPPORTED)
    }
    if secret.is_some() {
        eprintln!("error: unsupported: qcow2-rs has no encryption");
        exit(EX_UNSUPPORTED)
    }
    let file = File::open(&image).unwrap_or_else(|e| {
        eprintln!("error: usage: cannot open {}: {}", image, e);
        exit(EX_USAGE)
    });
    let q = Qcow2::open(file).unwrap_or_else(|e| fail(&e));
    let reader = q.reader().unwrap_or_else(|e| fail(&e));
    let size = q.guest_size();
    let start = offset.unwrap_or(0);
    let end = match length {
        Some(l) => start.checked_add(l).unwrap_or_else(|| usage("offset+length overflows")),
        None => size,
    };
    if end > size {
        eprintln!("error: range: {}+{} is past the virtual size {}", start, end - start, size);
        exit(EX_REJECTED)
    }
    // The answer is buffered and written only once the whole range was read:
    // a refusal half-way must not leave a partial answer on stdout.
    let mut out = Vec::with_capacity((end - start).min(1 << 30) as usize);
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = start;
    while pos < end {
        let n = ((end - pos) as usize).min(buf.len());
        if let Err(e) = reader.read_exact_at(pos, &mut buf[..n]) {
            // The library wraps its own errors in io::Error (ErrorKind::Other).
            let inner = e.get_ref().and_then(|i| i.downcast_ref::<Error>());
            match inner {
                Some(qe) => fail(qe),
                None => {
                    eprintln!("error: range: read at {}: {}", pos, e);
                    exit(EX_REJECTED)
                }
            }
        }
        out.extend_from_slice(&buf[..n]);
        pos += n as u64;
    }
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    if lock.write_all(&out).and_then(|_| lock.flush()).is_err() {
        exit(0) // the reader closed the pipe (the runner cut the answer)
    }
}
