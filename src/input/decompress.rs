//! Compression is recognised by magic bytes, never by file name, so
//! rotated `access.log.3.gz` and mis-named files both work.

use std::io::{self, Read};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Compression {
    pub fn sniff(magic: &[u8]) -> Compression {
        match magic {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [b'B', b'Z', b'h', ..] => Compression::Bzip2,
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Compression::Xz,
            _ => Compression::None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }

    /// Wraps a raw stream in the matching decoder. Concatenated gzip and
    /// bzip2 members (as `cat a.gz b.gz` or pigz produce) are read whole.
    pub fn decoder<'a>(
        self,
        r: Box<dyn Read + Send + 'a>,
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Compression::None => r,
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(r)),
            Compression::Xz => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "xz-compressed input is not supported; decompress it first (xz -dc FILE | authstorm analyze -)",
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn roundtrip_each() {
        let text = b"line one\nline two\n".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(&text[..], 1).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&text).unwrap();
        let bz = bz.finish().unwrap();
        for (data, kind) in [
            (gz, Compression::Gzip),
            (zs, Compression::Zstd),
            (bz, Compression::Bzip2),
        ] {
            assert_eq!(Compression::sniff(&data), kind);
            let mut out = Vec::new();
            kind.decoder(Box::new(&data[..]))
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, text);
        }
        assert_eq!(Compression::sniff(b"plain"), Compression::None);
        assert!(Compression::Xz.decoder(Box::new(&b""[..])).is_err());
    }
}
