#include "store/group_writer.h"

#include "common/thread_name.h"

namespace certward::store {

GroupWriter::GroupWriter(Database& db, std::size_t max_batch)
    : db_(db), max_batch_(max_batch == 0 ? 1 : max_batch) {
  writer_ = std::thread([this] {
    common::name_this_thread("group-writer");
    loop();
  });
}

GroupWriter::~GroupWriter() {
  {
    common::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

Status GroupWriter::run(Work work) {
  auto unit = std::make_shared<Unit>();
  unit->work = std::move(work);
  std::future<Status> done = unit->done.get_future();
  {
    common::MutexLock lock(mu_);
    if (stopping_) return fail(ErrorCode::kUnavailable, "the writer is stopping");
    queue_.push_back(std::move(unit));
  }
  cv_.notify_one();
  return done.get();
}

GroupWriter::Stats GroupWriter::stats() const {
  common::MutexLock lock(mu_);
  return stats_;
}

void GroupWriter::loop() {
  for (;;) {
    std::vector<std::shared_ptr<Unit>> batch;
    {
      common::MutexLock lock(mu_);
      cv_.wait(mu_, [this]() CW_REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit(std::move(batch));
  }
}

void GroupWriter::commit(std::vector<std::shared_ptr<Unit>> batch) {
  while (!batch.empty()) {
    auto tx = db_.begin(TxMode::kWrite);
    if (!tx) {
      for (auto& u : batch) u->done.set_value(std::unexpected(tx.error()));
      return;
    }
    std::optional<std::size_t> failed;
    Error error{ErrorCode::kInternal, ""};
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (Status s = batch[i]->work(**tx); !s) {
        failed = i;
        error = std::move(s).error();
        break;
      }
    }
    if (failed) {
      // The database itself failing is every unit's failure, not this one's.
      if (error.code == ErrorCode::kUnavailable) {
        for (auto& u : batch) u->done.set_value(std::unexpected(error));
        return;
      }
      // Roll back what every unit wrote, fail the one, run the others again.
      tx->reset();
      batch[*failed]->done.set_value(std::unexpected(std::move(error)));
      batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(*failed));
      continue;
    }
    Status committed = (*tx)->commit();
    if (committed) {
      common::MutexLock lock(mu_);
      stats_.commits += 1;
      stats_.units += batch.size();
    }
    for (auto& u : batch) u->done.set_value(committed);
    return;
  }
}

}  // namespace certward::store
