// drivers/postgres/wire_protocol: the server's byte stream as bsup's own protocol client cuts it
// into messages and reads them (ErrorResponse/NoticeResponse, DataRow, NotificationResponse), and
// Result's conversions of a row's values. A malformed stream throws ProtocolError, nothing else;
// messages stay inside the buffer; a DataRow written back with Writer reads back the same; a
// value reads back byte for byte, "t" alone is true, NULL reads as empty and as no integer, and a
// canonical integer reads as itself (other text may throw std::invalid_argument/out_of_range:
// the columns bsup reads as integers are ::bigint, so a server never sends one).
#include "drivers/postgres/connection.hpp"
#include "drivers/postgres/schema.hpp"
#include "drivers/postgres/wire_protocol.hpp"

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

namespace {

using namespace bsup::drivers::postgres;

void check_row(const Result::Row& row) {
    // Written back as the server would, it reads the same.
    wire::Writer writer('D');
    writer.int16(static_cast<int>(row.size()));
    for (const auto& value : row) {
        writer.int32(value ? static_cast<std::int32_t>(value->size()) : -1);
        if (value) {
            writer.bytes(*value);
        }
    }
    std::string encoded = writer.finish();
    std::size_t offset = 0;
    auto message = wire::next_message(encoded, offset);
    if (!message || message->type != 'D' || offset != encoded.size() ||
        wire::parse_data_row(message->body) != row) {
        std::abort();
    }
    Result result(std::vector<Result::Row>{row});
    for (int c = 0; c < static_cast<int>(row.size()); ++c) {
        const auto& value = row[static_cast<std::size_t>(c)];
        std::string text = value.value_or("");
        if (result.is_null(0, c) != !value || result.text(0, c) != text ||
            result.boolean(0, c) != (text == "t")) {
            std::abort();
        }
        std::int64_t canonical = 0;
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), canonical);
        bool is_integer = error == std::errc() && end == text.data() + text.size();
        try {
            auto number = result.optional_integer(0, c);
            if (number.has_value() != value.has_value() || (is_integer && *number != canonical)) {
                std::abort();
            }
        } catch (const std::invalid_argument&) {
            if (is_integer) {
                std::abort();
            }
        } catch (const std::out_of_range&) {
            if (is_integer) {
                std::abort();
            }
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view stream(reinterpret_cast<const char*>(data), size);
    std::size_t offset = 0;
    try {
        while (auto message = wire::next_message(stream, offset)) {
            if (offset > stream.size() || message->body.data() < stream.data() ||
                message->body.data() + message->body.size() > stream.data() + stream.size()) {
                std::abort();
            }
            try {
                switch (message->type) {
                case 'E':
                case 'N': {
                    wire::ServerMessage m = wire::parse_server_message(message->body);
                    ServerError error(m.sqlstate, m.message, "");
                    (void)schema_missing(error);
                    break;
                }
                case 'D':
                    check_row(wire::parse_data_row(message->body));
                    break;
                case 'A':
                    (void)wire::parse_notification_payload(message->body);
                    break;
                default:
                    break;
                }
            } catch (const wire::ProtocolError&) {
                // A message shorter than its fields: the connection reports it as lost.
            }
        }
    } catch (const wire::ProtocolError&) {
        // An impossible length.
    }
    return 0;
}
