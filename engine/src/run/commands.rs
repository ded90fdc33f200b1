//! The worker's end of the command channel, read between steps.

use crate::backend::Backend;
use std::sync::mpsc::TryRecvError;

use super::events::{Command, Event, Status};
use super::setup::Run;
use super::{Error, Worker};

impl Worker<'_> {
    /// Handles commands between steps; pausing blocks here.
    pub(super) fn poll_commands<B: Backend>(
        &self,
        run: &mut Run<B>,
    ) -> Result<Option<Status>, Error> {
        let mut paused = false;
        loop {
            let cmd = if paused {
                match self.commands.recv() {
                    Ok(c) => c,
                    Err(_) => Command::Stop,
                }
            } else {
                match self.commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(None),
                }
            };
            match cmd {
                Command::Pause => paused = true,
                Command::Resume => paused = false,
                Command::SaveCheckpoint => {
                    self.save(run)?;
                    self.send(Event::Log {
                        message: format!(
                            "checkpoint saved to {}",
                            run.dir.checkpoint_path().display()
                        ),
                    });
                }
                Command::Stop | Command::Interrupt => {
                    self.save(run)?;
                    return Ok(Some(if cmd == Command::Stop {
                        Status::Stopped
                    } else {
                        Status::Interrupted
                    }));
                }
            }
        }
    }
}
