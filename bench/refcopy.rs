//! refcopy: the reference "plain raw-socket file copy" the benchmark compares Ferry with.
//!
//! One TCP connection, files framed by length, no hashing, no handshake, no safety checks: the
//! least work a program can do to move a tree of files over a socket. Userspace read/write loops
//! with a 1 MiB buffer (no sendfile/splice), because Ferry must read every byte anyway to hash
//! it. With `--fsync` the receiver fsyncs each file before the final ack, like Ferry does.
//!
//!   refcopy recv LISTEN_ADDR:PORT DIR [--fsync]   accept one connection, write into DIR, exit
//!   refcopy send HOST:PORT PATH...                send files and folders (recursively), wait for ack
//!
//! Wire: per file `u32 BE path length, path (UTF-8, '/'-separated, relative), u64 BE size, data`;
//! a path length of 0 ends the batch; the receiver answers one byte when everything is written.
//!
//! Built by bench/run.sh with `rustc -O` (std only). Not part of the Ferry crate.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const BUF: usize = 1 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("recv") if args.len() >= 4 => {
            recv(&args[2], Path::new(&args[3]), args.iter().any(|a| a == "--fsync"))
        }
        Some("send") if args.len() >= 4 => send(&args[2], &args[3..]),
        _ => {
            eprintln!("usage: refcopy recv ADDR:PORT DIR [--fsync] | refcopy send HOST:PORT PATH...");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(n) => {
            eprintln!("refcopy: {n} bytes");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("refcopy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Every file under `root` (or `root` itself), with the path it gets on the other side.
fn collect(root: &Path, rel: PathBuf, out: &mut Vec<(PathBuf, String)>) -> io::Result<()> {
    if fs::metadata(root)?.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(root)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            collect(&e.path(), rel.join(e.file_name()), out)?;
        }
    } else {
        out.push((root.to_path_buf(), rel.to_string_lossy().into_owned()));
    }
    Ok(())
}

fn send(addr: &str, paths: &[String]) -> io::Result<u64> {
    let mut files = Vec::new();
    for p in paths {
        let p = Path::new(p);
        let name = p.file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("root"));
        collect(p, name, &mut files)?;
    }
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut ack = stream.try_clone()?;
    let mut w = BufWriter::with_capacity(64 * 1024, stream);
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    for (path, rel) in files {
        let mut f = File::open(&path)?;
        let size = f.metadata()?.len();
        w.write_all(&(rel.len() as u32).to_be_bytes())?;
        w.write_all(rel.as_bytes())?;
        w.write_all(&size.to_be_bytes())?;
        let mut left = size;
        while left > 0 {
            let n = f.read(&mut buf[..BUF.min(left as usize)])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{} shrank", path.display()),
                ));
            }
            w.write_all(&buf[..n])?;
            left -= n as u64;
        }
        total += size;
    }
    w.write_all(&0u32.to_be_bytes())?;
    w.flush()?;
    let mut b = [0u8; 1];
    ack.read_exact(&mut b)?;
    Ok(total)
}

fn recv(listen: &str, dir: &Path, fsync: bool) -> io::Result<u64> {
    let listener = TcpListener::bind(listen)?;
    let (stream, _) = listener.accept()?;
    let mut ack = stream.try_clone()?;
    let mut r = BufReader::with_capacity(64 * 1024, stream);
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    loop {
        let mut len = [0u8; 4];
        r.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            break;
        }
        if len > 4096 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "path too long"));
        }
        let mut name = vec![0u8; len];
        r.read_exact(&mut name)?;
        let name =
            String::from_utf8(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad name"))?;
        if name.split('/').any(|c| c.is_empty() || c == "..") || name.starts_with('/') {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "unsafe name"));
        }
        let mut size = [0u8; 8];
        r.read_exact(&mut size)?;
        let size = u64::from_be_bytes(size);
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut f = File::create(&path)?;
        let mut left = size;
        while left > 0 {
            let n = r.read(&mut buf[..BUF.min(left as usize)])?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-file"));
            }
            f.write_all(&buf[..n])?;
            left -= n as u64;
        }
        if fsync {
            f.sync_all()?;
        }
        total += size;
    }
    ack.write_all(&[1])?;
    Ok(total)
}
