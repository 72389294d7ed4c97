//! Conformance adapter (conformance/PROTOCOL.md, protocol 2) for ming1/qcow2-rs,
//! an async qcow2 library (read/write, backing files, compressed clusters).
//! Built by ../build.sh with the library's synchronous pread backend
//! (`qcow2_setup_dev_sync`), driven by `futures::executor::block_on`.
//!
//! Exit codes: 0 answer on stdout; 65 the library returned an error
//! (`error: metadata: <message>` on stderr); 69 command or option not supported;
//! 64 usage error. The library's own panics (unwrap/expect/assert on bad input)
//! are not caught: Rust exits 101, which the runner scores as a CRASH.
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::exit;

use futures::executor::block_on;
use qcow2_rs::dev::Qcow2DevParams;
use qcow2_rs::utils::qcow2_setup_dev_sync;

// Adapter protocol 2 exit codes (sysexits.h): any other status is a crash.
const EX_REJECTED: i32 = 65;
const EX_UNSUPPORTED: i32 = 69;
const EX_USAGE: i32 = 64;

const FEATURES: &[&str] = &[
    "v2", "v3", "compressed", "backing",
    "refcount_order_0", "refcount_order_1", "refcount_order_2", "refcount_order_3",
    "refcount_order_4", "refcount_order_5", "refcount_order_6",
];

fn usage(msg: &str) -> ! {
    eprintln!("error: usage: {}", msg);
    exit(EX_USAGE)
}

fn fail<E: std::fmt::Debug>(what: &str, e: E) -> ! {
    eprintln!("error: metadata: {}: {:?}", what, e);
    exit(EX_REJECTED)
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
                "{{\"protocol\": 2, \"name\": \"ming1-qcow2-rs\", \"version\": \"0.1.0\", \
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
    if std::fs::metadata(&image).is_err() {
        usage(&format!("cannot open {}", image));
    }
    // 512-byte blocks, default caches, read-only, no O_DIRECT (as the crate's
    // qcow2_default_params! but read-only and buffered).
    let params = Qcow2DevParams::new(9, None, None, true, false);
    let path = PathBuf::from(&image);
    let dev = qcow2_setup_dev_sync(&path, &params).unwrap_or_else(|e| fail("open", e));
    block_on(dev.qcow2_prep_io()).unwrap_or_else(|e| fail("open", e));
    let size = dev.info.virtual_size();
    let start = offset.unwrap_or(0);
    let end = match length {
        Some(l) => start.checked_add(l).unwrap_or_else(|| usage("offset+length overflows")),
        None => size,
    };
    if end > size {
        eprintln!("error: range: {}+{} is past the virtual size {}", start, end - start, size);
        exit(EX_REJECTED)
    }
    // The library reads whole 512-byte blocks: read the aligned superset in
    // 1 MiB pieces, then cut. Nothing is written before the whole range is read.
    let astart = start & !511;
    let aend = std::cmp::min((end + 511) & !511, (size + 511) & !511);
    let mut out: Vec<u8> = Vec::with_capacity((aend - astart).min(1 << 30) as usize);
    let mut pos = astart;
    while pos < aend {
        let n = std::cmp::min(aend - pos, 1 << 20) as usize;
        let mut buf = vec![0u8; n];
        block_on(dev.read_at(&mut buf, pos)).unwrap_or_else(|e| fail(&format!("read at {}", pos), e));
        out.extend_from_slice(&buf);
        pos += n as u64;
    }
    let lo = (start - astart) as usize;
    let hi = lo + (end - start) as usize;
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    if lock.write_all(&out[lo..hi]).and_then(|_| lock.flush()).is_err() {
        exit(0)
    }
}
