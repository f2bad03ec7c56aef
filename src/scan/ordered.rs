//! An ordered parallel map: items are parsed on any worker, and their
//! results are settled one at a time in item order (the retry stage is a
//! fold over file order), with no barrier between batches.
//!
//! Why not batches of chunks joined at a barrier: settling a chunk costs a
//! tenth of parsing it, so a batch ended with one worker finishing the
//! settling and the others idle (7% of a two-thread run). Here the worker
//! that completes the result next in line settles it, and every result it
//! unblocks, while the others keep parsing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// Results waiting for their turn, and whose turn it is.
struct Queue<T> {
    next: usize,
    ready: BTreeMap<usize, T>,
}

/// The settling side: only one worker holds it at a time.
struct Settler<S, E> {
    settle: S,
    /// Items handed to workers so far.
    started: usize,
    failed: Option<E>,
}

struct Shared<T, E, P, S> {
    n: usize,
    parse: P,
    queue: Mutex<Queue<Result<T, E>>>,
    settler: Mutex<Settler<S, E>>,
    stop: AtomicBool,
}

fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    // A poisoned lock means a worker panicked; the scope re-raises that
    // panic, so the state behind it is never used for a result.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `parse(i)` for `i` in `0..n` on the current rayon pool and passes
/// each result to `settle` in order of `i`. At most `ahead` items are being
/// parsed or waiting beyond the last one settled, which bounds memory.
/// Stops at the first error (of either closure) and returns it.
pub fn ordered<T, E, P, S>(n: usize, ahead: usize, parse: P, settle: S) -> Result<(), E>
where
    T: Send,
    E: Send,
    P: Fn(usize) -> Result<T, E> + Sync,
    S: FnMut(T) -> Result<(), E> + Send,
{
    let first = ahead.max(1).min(n);
    let shared = Shared {
        n,
        parse,
        queue: Mutex::new(Queue {
            next: 0,
            ready: BTreeMap::new(),
        }),
        settler: Mutex::new(Settler {
            settle,
            started: first,
            failed: None,
        }),
        stop: AtomicBool::new(false),
    };
    // FIFO: items start in order on every worker, so results rarely wait.
    rayon::scope_fifo(|s| {
        for i in 0..first {
            let shared = &shared;
            s.spawn_fifo(move |s| task(s, i, shared));
        }
    });
    let settler = shared
        .settler
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    settler.failed.map_or(Ok(()), Err)
}

fn task<'s, T, E, P, S>(s: &rayon::ScopeFifo<'s>, i: usize, sh: &'s Shared<T, E, P, S>)
where
    T: Send,
    E: Send,
    P: Fn(usize) -> Result<T, E> + Sync,
    S: FnMut(T) -> Result<(), E> + Send,
{
    if sh.stop.load(Ordering::Relaxed) {
        return;
    }
    let result = (sh.parse)(i);
    lock(&sh.queue).ready.insert(i, result);
    loop {
        // Whoever holds the settler will see this result: it looks at the
        // queue again after letting go (below).
        let mut st = match sh.settler.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        while !sh.stop.load(Ordering::Relaxed) {
            let item = {
                let mut q = lock(&sh.queue);
                let next = q.next;
                match q.ready.remove(&next) {
                    Some(item) => {
                        q.next += 1;
                        item
                    }
                    None => break,
                }
            };
            if let Err(e) = item.and_then(|t| (st.settle)(t)) {
                st.failed.get_or_insert(e);
                sh.stop.store(true, Ordering::Relaxed);
            }
            if !sh.stop.load(Ordering::Relaxed) && st.started < sh.n {
                let j = st.started;
                st.started += 1;
                s.spawn_fifo(move |s| task(s, j, sh));
            }
        }
        drop(st);
        // A result that arrived while the settler was held, after its last
        // look, is settled now.
        let q = lock(&sh.queue);
        if sh.stop.load(Ordering::Relaxed) || !q.ready.contains_key(&q.next) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ordered;

    #[test]
    fn settles_in_order_for_any_pool_and_lookahead() {
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            for n in [0, 1, 2, 7, 100] {
                for ahead in [0, 1, 3, 16] {
                    let mut seen = Vec::new();
                    let r: Result<(), ()> = pool.install(|| {
                        ordered(
                            n,
                            ahead,
                            |i| {
                                // Uneven work, so results finish out of order.
                                std::thread::sleep(std::time::Duration::from_micros(
                                    (i as u64 * 37) % 200,
                                ));
                                Ok(i * 10)
                            },
                            |v| {
                                seen.push(v);
                                Ok(())
                            },
                        )
                    });
                    assert_eq!(r, Ok(()));
                    let want: Vec<usize> = (0..n).map(|i| i * 10).collect();
                    assert_eq!(seen, want, "threads {threads} n {n} ahead {ahead}");
                }
            }
        }
    }

    #[test]
    fn stops_at_the_first_error_and_settles_nothing_after_it() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("pool");
        let mut seen = Vec::new();
        let r = pool.install(|| {
            ordered(
                50,
                4,
                |i| {
                    if i == 9 {
                        Err(format!("bad {i}"))
                    } else {
                        Ok(i)
                    }
                },
                |v| {
                    seen.push(v);
                    Ok(())
                },
            )
        });
        assert_eq!(r, Err("bad 9".to_string()));
        assert_eq!(seen, (0..9).collect::<Vec<_>>());
        let mut seen = Vec::new();
        let r = pool.install(|| {
            ordered(20, 3, Ok::<usize, String>, |v| {
                if v == 5 {
                    return Err("settle 5".to_string());
                }
                seen.push(v);
                Ok(())
            })
        });
        assert_eq!(r, Err("settle 5".to_string()));
        assert_eq!(seen, (0..5).collect::<Vec<_>>());
    }
}
