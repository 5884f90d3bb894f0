#pragma once

// PostgreSQL's frontend/backend protocol 3.0, the messages bsup sends and reads: building them,
// and cutting the server's byte stream into messages. No I/O here (wire_connection.cpp does
// it), so that the parsing can be tested and fuzzed on its own.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bsup::drivers::postgres::wire {

// A message of the server's stream that does not follow the protocol.
struct ProtocolError {
    std::string what;
};

// Builds one message: a type byte (none for start-up and requests), a length, the fields.
class Writer {
  public:
    explicit Writer(char type = '\0');
    Writer& int16(int value);
    Writer& int32(std::int32_t value);
    Writer& cstring(std::string_view text); // with its NUL
    Writer& bytes(std::string_view data);
    std::string finish() const;

  private:
    char m_type;
    std::string m_body;
};

struct Message {
    char type = '\0';
    std::string_view body;
};

// The next whole message at `offset` of `buffer`, advancing `offset` past it; nullopt while it
// has not all arrived. Throws ProtocolError for an impossible length.
std::optional<Message> next_message(std::string_view buffer, std::size_t& offset);

// Reads a message's fields in order; a field past the end throws ProtocolError.
class Reader {
  public:
    explicit Reader(std::string_view body) : m_body(body) {}
    std::int32_t int32();
    int int16();
    std::string_view cstring();
    std::string_view bytes(std::size_t count);
    std::string_view rest() const { return m_body.substr(m_pos); }

  private:
    std::string_view m_body;
    std::size_t m_pos = 0;
};

// The fields of an ErrorResponse or NoticeResponse that bsup shows.
struct ServerMessage {
    std::string severity; // ERROR, FATAL, PANIC (not localized: field 'V')
    std::string sqlstate;
    std::string message;
};
ServerMessage parse_server_message(std::string_view body);

// One row of a DataRow message: each column's text, or nullopt for NULL.
std::vector<std::optional<std::string>> parse_data_row(std::string_view body);

// A NotificationResponse's payload.
std::string parse_notification_payload(std::string_view body);

// Requests and the start-up message.
std::string ssl_request();
std::string cancel_request(std::int32_t pid, std::int32_t secret);
std::string startup(const std::vector<std::pair<std::string, std::string>>& parameters);
// Parse, Bind, Execute and Sync of an unnamed statement with text parameters (nullopt: NULL).
std::string extended_query(std::string_view sql,
                           const std::vector<std::optional<std::string>>& params);
// The same in parts, for named (prepared) statements: Parse of `sql` as `name` (no Sync), and
// Bind, Execute and Sync of the statement `name`.
std::string parse(std::string_view name, std::string_view sql);
std::string bind_execute(std::string_view name,
                         const std::vector<std::optional<std::string>>& params);
std::string sync();
std::string simple_query(std::string_view sql);
std::string terminate();

} // namespace bsup::drivers::postgres::wire
