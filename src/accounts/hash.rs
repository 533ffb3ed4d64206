//! Password hashing off the event loop: argon2id in one worker thread that
//! holds no chat state, fed through a bounded queue, waking the loop with
//! a `mio::Waker` when an answer is ready.
//!
//! The core never hashes: it asks with a [`HashJob`] and gets a
//! [`HashAnswer`] back. [`Hasher`] does the work and is what is pluggable:
//! the server uses [`Hasher::owasp`], tests of the core and the fuzzer
//! call [`Hasher::cheap`] synchronously.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// Jobs waiting for the worker at most; past that the user is told to try
/// again (each takes tens of milliseconds, so this is a second or two).
pub const QUEUE: usize = 32;

/// What the core asks of the hasher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOp {
    /// Hash a new password.
    Hash {
        /// The password.
        password: String,
    },
    /// Check a password against a hash; `None`: against a dummy hash of
    /// the same cost, so an unknown name takes as long as a wrong password.
    Verify {
        /// The stored hash.
        phc: Option<String>,
        /// The password.
        password: String,
    },
    /// Check `old` against `phc`, and if it matches hash `new`.
    Rehash {
        /// The stored hash.
        phc: String,
        /// The current password.
        old: String,
        /// The new password.
        new: String,
    },
}

/// One request, numbered by the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashJob {
    /// The core's number for it.
    pub id: u64,
    /// What to do.
    pub op: HashOp,
}

/// The hasher's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashAnswer {
    /// The PHC string of the new password.
    Hashed(String),
    /// Whether the password matched.
    Verified(bool),
    /// `Rehash`: the new hash, or `None` when the old password was wrong.
    Rehashed(Option<String>),
    /// The queue was full: nothing was done.
    Busy,
    /// Hashing failed (it does not, short of running out of memory).
    Failed,
}

/// argon2id with fixed parameters, and a dummy hash made with them.
///
/// It hashes into one memory block (19 MiB at OWASP cost) that it keeps
/// while hashes follow each other, instead of allocating one per hash (the
/// allocator kept freed blocks around: the server grew by 150 MiB over 50
/// logins); the worker [`Hasher::release`]s it when no hash came for
/// [`KEEP_BLOCK`], so an idle server does not hold it (with the mmap threshold `main` fixes,
/// a freed block goes back to the system at once).
#[derive(Debug)]
pub struct Hasher {
    params: Params,
    dummy: String,
    memory: std::cell::RefCell<Vec<argon2::Block>>,
}

impl Clone for Hasher {
    fn clone(&self) -> Hasher {
        Hasher {
            params: self.params.clone(),
            dummy: self.dummy.clone(),
            memory: Default::default(),
        }
    }
}

impl Hasher {
    /// OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
    pub fn owasp() -> Hasher {
        Hasher::with(19_456, 2, 1)
    }

    /// The smallest parameters argon2 allows (8 KiB, 1 pass): microseconds
    /// a hash, for tests of the core and the fuzzer only.
    pub fn cheap() -> Hasher {
        Hasher::with(8, 1, 1)
    }

    fn with(m_kib: u32, t: u32, p: u32) -> Hasher {
        let params = Params::new(m_kib, t, p, None).unwrap_or_default();
        let mut h = Hasher {
            params,
            dummy: String::new(),
            memory: Default::default(),
        };
        h.dummy = h.hash("chatsock dummy password").unwrap_or_default();
        h.release();
        h
    }

    /// Gives the memory block back (the next hash makes a new one).
    pub fn release(&self) {
        if let Ok(mut memory) = self.memory.try_borrow_mut() {
            *memory = Vec::new();
        }
    }

    /// argon2id with `params` into `out`, in the kept memory block (grown
    /// to fit, never shrunk: a stored hash of a higher cost makes it grow).
    fn compute(&self, params: &Params, password: &str, salt: &[u8], out: &mut [u8]) -> bool {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let Ok(mut memory) = self.memory.try_borrow_mut() else {
            return false;
        };
        let blocks = params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        let Some(blocks) = memory.get_mut(..blocks) else {
            return false;
        };
        argon2
            .hash_password_into_with_memory(password.as_bytes(), salt, out, blocks)
            .is_ok()
    }

    /// The PHC string of `password` with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        let salt = SaltString::generate(&mut rand_core::OsRng);
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(|e| e.to_string())?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        if !self.compute(&self.params, password, salt_bytes, &mut out) {
            return Err("argon2 failed".into());
        }
        let output = Output::new(&out).map_err(|e| e.to_string())?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| e.to_string())?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches `phc` (with `phc`'s own parameters);
    /// `None` checks against the dummy hash and is always false.
    pub fn verify(&self, phc: Option<&str>, password: &str) -> bool {
        let (phc, real) = match phc {
            Some(p) => (p, true),
            None => (self.dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let (Ok(params), Some(salt), Some(expected)) =
            (Params::try_from(&parsed), parsed.salt, parsed.hash)
        else {
            return false;
        };
        if parsed.algorithm != Algorithm::Argon2id.ident() {
            return false;
        }
        let mut salt_buf = [0u8; 64];
        let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        if !self.compute(&params, password, salt_bytes, &mut out) {
            return false;
        }
        // `Output`'s equality takes the same time wherever they differ.
        let ok = Output::new(&out).is_ok_and(|o| o == expected);
        ok && real
    }

    /// Does one job.
    pub fn run(&self, op: &HashOp) -> HashAnswer {
        match op {
            HashOp::Hash { password } => match self.hash(password) {
                Ok(h) => HashAnswer::Hashed(h),
                Err(_) => HashAnswer::Failed,
            },
            HashOp::Verify { phc, password } => {
                HashAnswer::Verified(self.verify(phc.as_deref(), password))
            }
            HashOp::Rehash { phc, old, new } => {
                if !self.verify(Some(phc), old) {
                    return HashAnswer::Rehashed(None);
                }
                match self.hash(new) {
                    Ok(h) => HashAnswer::Rehashed(Some(h)),
                    Err(_) => HashAnswer::Failed,
                }
            }
        }
    }
}

/// The worker thread's handle: jobs go in, answers come out, and the loop
/// is woken for each answer.
#[derive(Debug)]
pub struct Worker {
    jobs: Option<SyncSender<HashJob>>,
    answers: Receiver<(u64, HashAnswer)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How long the worker keeps its memory block after the last hash: a
/// burst of logins reuses it, an idle server gives it back.
pub const KEEP_BLOCK: std::time::Duration = std::time::Duration::from_secs(10);

impl Worker {
    /// Starts the worker with `hasher`; `wake` is called after each answer.
    pub fn spawn(hasher: Hasher, wake: Arc<mio::Waker>) -> std::io::Result<Worker> {
        let (jobs, inbox) = mpsc::sync_channel::<HashJob>(QUEUE);
        let (outbox, answers) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("chatsock-hash".into())
            .spawn(move || loop {
                let job = match inbox.recv_timeout(KEEP_BLOCK) {
                    Ok(job) => job,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        // Nothing for a while: no 19 MiB held while idle.
                        hasher.release();
                        match inbox.recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                };
                {
                    let answer = hasher.run(&job.op);
                    drop(job.op); // the password goes as soon as it is used
                    if outbox.send((job.id, answer)).is_err() {
                        return;
                    }
                    let _ = wake.wake();
                }
            })?;
        Ok(Worker {
            jobs: Some(jobs),
            answers,
            thread: Some(thread),
        })
    }

    /// Queues a job; gives it back when the queue is full (or the worker
    /// is gone), for the caller to answer [`HashAnswer::Busy`].
    pub fn submit(&self, job: HashJob) -> Result<(), HashJob> {
        let Some(jobs) = &self.jobs else {
            return Err(job);
        };
        jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(j) | TrySendError::Disconnected(j) => j,
        })
    }

    /// An answer that is ready, if any.
    pub fn answer(&self) -> Option<(u64, HashAnswer)> {
        self.answers.try_recv().ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the queue ends the thread after its current job.
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let h = Hasher::cheap();
        let a = h.hash("correct horse").unwrap();
        let b = h.hash("correct horse").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{a}");
        assert!(h.verify(Some(&a), "correct horse"));
        assert!(!h.verify(Some(&a), "wrong horse"));
        assert!(!h.verify(None, "chatsock dummy password"));
        assert!(!h.verify(Some("garbage"), "x"));
    }

    #[test]
    fn owasp_parameters_are_in_the_hash() {
        let p = Hasher::owasp().params;
        assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19_456, 2, 1));
    }

    #[test]
    fn hashes_are_what_the_phc_api_makes() {
        // The same salt and parameters through argon2's own PHC API.
        use argon2::password_hash::PasswordVerifier;
        let h = Hasher::with(64, 2, 1);
        let phc = h.hash("pw").unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, h.params.clone());
        assert!(a.verify_password(b"pw", &parsed).is_ok());
        assert!(a.verify_password(b"px", &parsed).is_err());
    }

    #[test]
    fn a_hash_verifies_with_its_own_parameters() {
        // A stored OWASP-cost hash checked by a cheap hasher still works:
        // verification reads the cost from the PHC string.
        let strong = Hasher::with(64, 2, 1).hash("pw").unwrap();
        assert!(Hasher::cheap().verify(Some(&strong), "pw"));
    }

    #[test]
    fn rehash_needs_the_old_password() {
        let h = Hasher::cheap();
        let old = h.hash("one").unwrap();
        let rehash = |o: &str| HashOp::Rehash {
            phc: old.clone(),
            old: o.into(),
            new: "two".into(),
        };
        assert_eq!(h.run(&rehash("nope")), HashAnswer::Rehashed(None));
        match h.run(&rehash("one")) {
            HashAnswer::Rehashed(Some(new)) => assert!(h.verify(Some(&new), "two")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_worker_answers_and_wakes() {
        let mut poll = mio::Poll::new().unwrap();
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(7)).unwrap());
        let w = Worker::spawn(Hasher::cheap(), waker).unwrap();
        w.submit(HashJob {
            id: 42,
            op: HashOp::Hash {
                password: "x".into(),
            },
        })
        .unwrap();
        let mut events = mio::Events::with_capacity(4);
        poll.poll(&mut events, Some(std::time::Duration::from_secs(10)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == mio::Token(7)));
        let (id, answer) = w.answer().unwrap();
        assert_eq!(id, 42);
        assert!(matches!(answer, HashAnswer::Hashed(_)));
    }
}
