// Importing certificates: one request's worth in memory (the REST API), and whole directory
// trees (the CLI), read and parsed on every core and written in batched transactions.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "common/bounded_queue.h"
#include "inventory/internal.h"

namespace certward::inventory {
namespace {

// A file larger than this is not a certificate container anyone meant to import: refusing it
// keeps a hostile tree (a disk image named cert.pem) from exhausting memory.
constexpr off_t kMaxFileBytes = 64 << 20;
// Files a parsing thread takes at a time: large enough that the queue is not the cost, small
// enough that an interrupted run discards little parsed work.
constexpr std::size_t kFilesPerChunk = 256;
// And the certificates a chunk holds at most (past one file's): parsed certificates cost a few
// KB each, and a tree of large bundles must not fill memory with chunks waiting to be written.
constexpr std::size_t kCertificatesPerChunk = 2048;

struct ParsedFile {
  std::string source;
  Result<std::vector<x509::Certificate>> certs;
};
using Chunk = std::vector<ParsedFile>;

// The whole file, refused when it is not a regular file or too large. Errors: kNotFound (cannot
// open or read), kInvalidArgument (too large, not a regular file).
Result<std::string> read_bounded(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fail(ErrorCode::kNotFound, "cannot read " + path);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(ErrorCode::kNotFound, "cannot read " + path);
  if (!S_ISREG(st.st_mode)) return fail(ErrorCode::kInvalidArgument, path + " is not a file");
  if (st.st_size > kMaxFileBytes) {
    return fail(ErrorCode::kInvalidArgument, path + " is larger than 64 MiB");
  }
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(ErrorCode::kNotFound, "cannot read " + path);
    if (n == 0) break;  // shrank while read: take what is there
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);
  return data;
}

// Every certificate of one file: PEM (bundles too), DER, P7B, or P12 with `password`.
Result<std::vector<x509::Certificate>> parse_file(const std::string& data,
                                                  const std::optional<std::string>& password) {
  const auto format = x509::detect_format(as_bytes(data));
  if (!format || *format != x509::ContainerFormat::kPkcs12) {
    return x509::parse_certificates(as_bytes(data), x509::Parsing::kLenient);
  }
  if (!password) {
    return fail(ErrorCode::kBadPassword,
                "PKCS#12 file needs a password (--password-file or --password-env)");
  }
  CW_ASSIGN_OR_RETURN(auto p12,
                      x509::parse_pkcs12(as_bytes(data), *password, x509::Parsing::kLenient));
  std::vector<x509::Certificate> all;
  if (p12.leaf) all.push_back(*p12.leaf);
  all.insert(all.end(), p12.chain.begin(), p12.chain.end());
  return all;
}

ParsedFile read_and_parse(const std::string& path, const std::optional<std::string>& password) {
  auto data = read_bounded(path);
  if (!data) return {path, std::unexpected(data.error())};
  return {path, parse_file(*data, password)};
}

// Regular files under `paths` (directories recursively, each directory's files sorted), as
// the single-threaded import always ordered them.
std::vector<std::string> walk(std::span<const std::string> paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      files.push_back(p);
      continue;
    }
    const std::size_t first = files.size();
    for (auto it =
             fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec)) files.push_back(it->path().string());
    }
    std::sort(files.begin() + static_cast<long>(first), files.end());
  }
  return files;
}

// Reads and parses `files` on `threads` threads, a chunk at a time, into `out`; stops early
// when `out` is closed. Chunks arrive in any order.
class ParsePool {
 public:
  ParsePool(const std::vector<std::string>& files, const std::optional<std::string>& password,
            unsigned threads, common::BoundedQueue<Chunk>& out)
      : files_(files), password_(password), out_(out), running_(threads) {
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  // Stops the threads (a chunk being parsed is dropped) and waits for them.
  ~ParsePool() {
    out_.close();
    for (auto& t : threads_) t.join();
  }

 private:
  void work() {
    for (;;) {
      Chunk chunk;
      std::size_t certificates = 0;
      // Files are claimed one at a time so that a chunk can end at its certificate bound.
      while (chunk.size() < kFilesPerChunk && certificates < kCertificatesPerChunk) {
        const std::size_t i = next_.fetch_add(1);
        if (i >= files_.size()) break;
        chunk.push_back(read_and_parse(files_[i], password_));
        if (chunk.back().certs) certificates += chunk.back().certs->size();
      }
      if (chunk.empty()) break;
      if (!out_.push(std::move(chunk))) return;
    }
    // The last thread to finish ends the stream for the writer.
    if (running_.fetch_sub(1) == 1) out_.close();
  }

  const std::vector<std::string>& files_;
  const std::optional<std::string>& password_;
  common::BoundedQueue<Chunk>& out_;
  std::atomic<std::size_t> next_{0};
  std::atomic<unsigned> running_;
  std::vector<std::thread> threads_;
};

}  // namespace

// One batch: files whose certificates are written together, with one audit event, in a
// transaction of their own or in the bulk import's (`shared`, when not null).
class Inventory::ImportBatch {
 public:
  ImportBatch(const Inventory& inventory, const ImportOptions& options, const RecordMeta& meta,
              store::Transaction* shared)
      : inventory_(inventory), options_(options), meta_(meta), shared_(shared) {}

  // Takes a parsed file; a failed one is only reported. Returns true when the batch is full:
  // of certificates, or of files (a tree of failures still reports progress and stops).
  bool add(ParsedFile file) {
    if (!file.certs) {
      ++report_.failed;
      report_.items.push_back({std::move(file.source), "", false, file.certs.error()});
    } else {
      certificates_ += file.certs->size();
      files_.push_back(std::move(file));
    }
    ++report_.files;
    return certificates_ >= options_.batch_certificates ||
           static_cast<std::size_t>(report_.files) >= options_.batch_certificates;
  }
  bool empty() const { return report_.files == 0; }

  // Records the batch's certificates and its audit event (committed, unless the transaction
  // is shared), then moves what it did into `total`. On error nothing of the batch is in the
  // store or in `total`.
  Status write(ImportReport& total) {
    if (!files_.empty()) CW_RETURN_IF_ERROR(write_files());
    total.inserted += report_.inserted;
    total.duplicates += report_.duplicates;
    total.failed += report_.failed;
    total.files += report_.files;
    for (auto& item : report_.items) {
      if (options_.items == ImportItems::kEvery || item.error)
        total.items.push_back(std::move(item));
    }
    files_.clear();
    certificates_ = 0;
    report_ = ImportReport();
    return ok();
  }

 private:
  Status write_files() {
    std::unique_ptr<store::Transaction> own;
    if (shared_ == nullptr) {
      CW_ASSIGN_OR_RETURN(own, inventory_.db_.begin(store::TxMode::kWrite));
    }
    store::Transaction* tx = shared_ != nullptr ? shared_ : own.get();
    nlohmann::json fingerprints = nlohmann::json::array();
    ImportReport done;
    for (const ParsedFile& file : files_) {
      for (const x509::Certificate& cert : *file.certs) {
        CW_ASSIGN_OR_RETURN(bool inserted, inventory_.record(*tx, cert, meta_));
        (inserted ? done.inserted : done.duplicates) += 1;
        if (inserted) fingerprints.push_back(cert.info().sha256_hex);
        done.items.push_back({file.source, cert.info().sha256_hex, inserted, std::nullopt});
      }
    }
    if (done.inserted > 0) {
      // One event for the batch, naming every certificate it added: the chain grows by one
      // link per few thousand certificates instead of one per certificate.
      CW_RETURN_IF_ERROR(
          inventory_.audit_.append(*tx, audit::Event{options_.actor,
                                                     "certificate.import",
                                                     "import",
                                                     files_.front().source,
                                                     {{"files", files_.size()},
                                                      {"first_file", files_.front().source},
                                                      {"last_file", files_.back().source},
                                                      {"origin", origin_name(meta_.origin)},
                                                      {"inserted", done.inserted},
                                                      {"duplicates", done.duplicates},
                                                      {"fingerprints", std::move(fingerprints)}}}));
    }
    if (own) CW_RETURN_IF_ERROR(own->commit());
    report_.inserted += done.inserted;
    report_.duplicates += done.duplicates;
    for (auto& item : done.items) report_.items.push_back(std::move(item));
    return ok();
  }

  const Inventory& inventory_;
  const ImportOptions& options_;
  const RecordMeta& meta_;
  store::Transaction* const shared_;
  std::vector<ParsedFile> files_;
  std::size_t certificates_ = 0;
  ImportReport report_;
};

Result<ImportReport> Inventory::import_certificates(std::span<const x509::Certificate> certs,
                                                    const RecordMeta& meta, std::string_view actor,
                                                    std::string_view source) const {
  ImportReport report;
  CW_ASSIGN_OR_RETURN(const RecordMeta checked, normalize_meta(meta));
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  std::vector<audit::Event> events;
  for (const auto& cert : certs) {
    CW_ASSIGN_OR_RETURN(bool inserted, record(*tx, cert, checked));
    report.items.push_back({std::string(source), cert.info().sha256_hex, inserted, std::nullopt});
    if (!inserted) {
      ++report.duplicates;
      continue;
    }
    ++report.inserted;
    events.push_back({std::string(actor),
                      "certificate.import",
                      "certificate",
                      cert.info().sha256_hex,
                      {{"source", source},
                       {"subject", cert.info().subject},
                       {"serial", cert.info().serial_hex},
                       {"origin", origin_name(checked.origin)}}});
  }
  CW_RETURN_IF_ERROR(audit_.append(*tx, events));
  CW_RETURN_IF_ERROR(tx->commit());
  return report;
}

Result<ImportReport> Inventory::import_paths(std::span<const std::string> paths,
                                             const std::optional<std::string>& pkcs12_password,
                                             const RecordMeta& meta, std::string_view actor) const {
  ImportOptions options;
  options.pkcs12_password = pkcs12_password;
  options.meta = meta;
  options.actor = std::string(actor);
  return import_paths(paths, options);
}

Result<bool> Inventory::bulk_mode(ImportMode mode, std::size_t files) const {
  const bool sqlite = db_.dialect() == store::Dialect::kSqlite;
  switch (mode) {
    case ImportMode::kBatched:
      return false;
    case ImportMode::kBulk:
      if (!sqlite) {
        return fail(ErrorCode::kInvalidArgument,
                    "a bulk import needs the SQLite driver; PostgreSQL imports in batches");
      }
      return true;
    case ImportMode::kAuto:
      break;
  }
  if (!sqlite || files < kBulkMinFiles) return false;
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  // Deleted rows leave the largest rowid above the count: that only errs towards batched.
  CW_ASSIGN_OR_RETURN(const std::int64_t held, internal::max_certificate_rowid(*tx));
  return static_cast<std::int64_t>(files) * 4 >= held;
}

Result<ImportReport> Inventory::import_paths(std::span<const std::string> paths,
                                             const ImportOptions& options) const {
  if (options.batch_certificates == 0) {
    return fail(ErrorCode::kInvalidArgument, "batch_certificates must be positive");
  }
  // Bad labels fail the whole command up front, not every file one by one.
  CW_ASSIGN_OR_RETURN(const RecordMeta meta, normalize_meta(options.meta));
  const std::vector<std::string> files = walk(paths);
  ImportProgress progress{.files_total = static_cast<std::int64_t>(files.size())};
  auto report_progress = [&](const ImportReport& r) {
    if (!options.on_progress) return;
    progress.files_done = r.files;
    progress.inserted = r.inserted;
    progress.duplicates = r.duplicates;
    progress.failed = r.failed;
    options.on_progress(progress);
  };
  auto stopping = [&] { return options.stop != nullptr && options.stop->load(); };

  CW_ASSIGN_OR_RETURN(const bool bulk, bulk_mode(options.mode, files.size()));
  std::unique_ptr<store::Transaction> bulk_tx;
  std::optional<internal::BulkLoad> bulk_load;
  if (bulk) {
    CW_ASSIGN_OR_RETURN(bulk_tx, db_.begin(store::TxMode::kWrite));
    CW_ASSIGN_OR_RETURN(bulk_load, internal::BulkLoad::begin(*bulk_tx));
  }

  ImportReport total;
  total.bulk = bulk;
  report_progress(total);
  const unsigned threads =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  {
    // Two chunks per thread in flight: the writer never waits on a parser that has work.
    common::BoundedQueue<Chunk> parsed(2 * threads);
    ParsePool pool(files, options.pkcs12_password, threads, parsed);
    ImportBatch batch(*this, options, meta, bulk_tx.get());
    while (!stopping()) {
      std::optional<Chunk> chunk = parsed.pop();
      if (!chunk) break;
      for (ParsedFile& file : *chunk) {
        if (!batch.add(std::move(file))) continue;
        CW_RETURN_IF_ERROR(batch.write(total));
        if (bulk) CW_RETURN_IF_ERROR(bulk_load->write_search(*bulk_tx));
        report_progress(total);
        if (stopping()) break;
      }
    }
    // Interrupted: the files already taken into the batch are whole; write them too, so that
    // a stop loses no parsed work yet never splits a file.
    if (!batch.empty()) {
      CW_RETURN_IF_ERROR(batch.write(total));
      report_progress(total);
    }
  }  // the parsing threads are joined: nothing is left to parse
  if (bulk) {
    progress.indexing = true;
    report_progress(total);
    CW_RETURN_IF_ERROR(bulk_load->finish(*bulk_tx));
    CW_RETURN_IF_ERROR(bulk_tx->commit());
  }
  total.interrupted = total.files < static_cast<std::int64_t>(files.size());
  return total;
}

}  // namespace certward::inventory
