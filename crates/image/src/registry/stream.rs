//! Blob streaming: a download fed chunk by chunk to a blocking reader (a layer walk, or
//! any other consumer) while it goes on.

use std::io::{self, Read};
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use oci_client::errors::DigestError;
use tokio::sync::mpsc;

use super::Ctx;
use crate::layer::{error_chain, walk_layer, LayerCtx, LayerResult};
use crate::{ImageError, Progress, Walk};

/// A blocking [`Read`] over chunks sent from the async side (download and decompression
/// overlap; the blob is never held in memory as a whole).
pub(crate) struct ChannelReader<T> {
    rx: mpsc::Receiver<io::Result<T>>,
    cur: Option<T>,
    pos: usize,
}

impl<T: AsRef<[u8]>> Read for ChannelReader<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(chunk) = &self.cur {
                let data = chunk.as_ref();
                if self.pos < data.len() {
                    let n = (data.len() - self.pos).min(buf.len());
                    buf[..n].copy_from_slice(&data[self.pos..self.pos + n]);
                    self.pos += n;
                    return Ok(n);
                }
            }
            self.cur = None;
            self.pos = 0;
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(chunk)) => self.cur = Some(chunk),
                Some(Err(e)) => return Err(e),
            }
        }
    }
}

/// Feeds `stream` into a layer walk on a blocking thread; the download error, if any, wins
/// over what the walk saw of it.
pub(super) async fn pump_and_walk<S, T>(
    stream: S,
    ctx: &Ctx,
    layer_ctx: LayerCtx,
    key: &str,
    walk: Walk,
    progress: &Arc<dyn Progress>,
) -> Result<LayerResult, ImageError>
where
    S: Stream<Item = io::Result<T>> + Unpin,
    T: AsRef<[u8]> + Send + 'static,
{
    let walk_ctx = layer_ctx.clone();
    let label = layer_ctx.label.clone();
    pump_into(stream, ctx, &label, key, progress, move |reader| {
        walk_layer(reader, &walk_ctx, &walk)
    })
    .await?
}

/// Streams a blob into `consume`, which reads it as a blocking [`Read`] on a blocking thread
/// while the download goes on (the blob is never held in memory as a whole). Each wait for
/// the next chunk is bounded by the timeout. A download error (timeout, transport, digest
/// mismatch found by `oci-client`) wins over what `consume` returned.
pub(crate) async fn pump_into<S, T, R>(
    mut stream: S,
    ctx: &Ctx,
    label: &str,
    key: &str,
    progress: &Arc<dyn Progress>,
    consume: impl FnOnce(ChannelReader<T>) -> R + Send + 'static,
) -> Result<R, ImageError>
where
    S: Stream<Item = io::Result<T>> + Unpin,
    T: AsRef<[u8]> + Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = mpsc::channel::<io::Result<T>>(32);
    let consumer = tokio::task::spawn_blocking(move || {
        consume(ChannelReader {
            rx,
            cur: None,
            pos: 0,
        })
    });
    let during = format!("downloading {label}");
    let mut pump_error = None;
    loop {
        match tokio::time::timeout(ctx.timeout, stream.next()).await {
            Err(_) => {
                pump_error = Some(ctx.timeout_error(&during));
                let _ = tx.send(Err(io::Error::other("download timed out"))).await;
                break;
            }
            Ok(None) => break,
            Ok(Some(Ok(chunk))) => {
                let n = chunk.as_ref().len() as u64;
                if tx.send(Ok(chunk)).await.is_err() {
                    break; // the consumer stopped (error or done): its result tells
                }
                progress.layer_bytes(key, n);
            }
            Ok(Some(Err(e))) => {
                let verification = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<DigestError>())
                    .and_then(|d| match d {
                        DigestError::VerificationError { expected, actual } => {
                            Some((expected, actual))
                        }
                        _ => None,
                    });
                pump_error = Some(match verification {
                    Some((expected, actual)) => ImageError::DigestMismatch {
                        subject: format!("{label} (compressed blob)"),
                        expected: expected.clone(),
                        actual: actual.clone(),
                    },
                    None => ctx.registry_error(format!("{during}: {}", error_chain(&e))),
                });
                let _ = tx.send(Err(io::Error::other("download failed"))).await;
                break;
            }
        }
    }
    drop(tx);
    let consumed = consumer
        .await
        .map_err(|e| ImageError::Other(format!("{label}: reading the download failed: {e}")));
    if let Some(e) = pump_error {
        return Err(e);
    }
    consumed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_reader_reassembles_chunks() {
        let (tx, rx) = mpsc::channel::<io::Result<Vec<u8>>>(4);
        let t = std::thread::spawn(move || {
            let mut r = ChannelReader {
                rx,
                cur: None,
                pos: 0,
            };
            let mut out = Vec::new();
            let res = r.read_to_end(&mut out);
            (out, res.is_ok())
        });
        tx.blocking_send(Ok(b"hel".to_vec())).unwrap();
        tx.blocking_send(Ok(Vec::new())).unwrap();
        tx.blocking_send(Ok(b"lo".to_vec())).unwrap();
        drop(tx);
        assert_eq!(t.join().unwrap(), (b"hello".to_vec(), true));
    }
}
