#include "drivers/postgres/wire_protocol.hpp"

namespace bsup::drivers::postgres::wire {

namespace {

// No message bsup asks for comes near this (a row of one lock); a larger length is garbage.
constexpr std::uint32_t k_max_message = 64u << 20;

void put32(std::string& out, std::uint32_t value) {
    for (int shift : {24, 16, 8, 0}) {
        out += static_cast<char>((value >> shift) & 0xff);
    }
}

std::uint32_t get32(std::string_view data, std::size_t pos) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        value = value << 8 | static_cast<unsigned char>(data[pos + i]);
    }
    return value;
}

} // namespace

Writer::Writer(char type) : m_type(type) {}

Writer& Writer::int16(int value) {
    m_body += static_cast<char>((value >> 8) & 0xff);
    m_body += static_cast<char>(value & 0xff);
    return *this;
}

Writer& Writer::int32(std::int32_t value) {
    put32(m_body, static_cast<std::uint32_t>(value));
    return *this;
}

Writer& Writer::cstring(std::string_view text) {
    m_body.append(text);
    m_body += '\0';
    return *this;
}

Writer& Writer::bytes(std::string_view data) {
    m_body.append(data);
    return *this;
}

std::string Writer::finish() const {
    std::string out;
    if (m_type != '\0') {
        out += m_type;
    }
    put32(out, static_cast<std::uint32_t>(m_body.size() + 4));
    return out + m_body;
}

std::optional<Message> next_message(std::string_view buffer, std::size_t& offset) {
    if (buffer.size() < offset + 5) {
        return std::nullopt;
    }
    std::uint32_t length = get32(buffer, offset + 1);
    if (length < 4 || length > k_max_message) {
        throw ProtocolError{"a message of impossible length " + std::to_string(length)};
    }
    if (buffer.size() - offset - 1 < length) {
        return std::nullopt;
    }
    Message m{buffer[offset], buffer.substr(offset + 5, length - 4)};
    offset += 1 + length;
    return m;
}

std::int32_t Reader::int32() {
    if (m_body.size() - m_pos < 4) {
        throw ProtocolError{"a message shorter than its fields"};
    }
    std::int32_t value = static_cast<std::int32_t>(get32(m_body, m_pos));
    m_pos += 4;
    return value;
}

int Reader::int16() {
    std::string_view two = bytes(2);
    return static_cast<std::int16_t>(static_cast<unsigned char>(two[0]) << 8 |
                                     static_cast<unsigned char>(two[1]));
}

std::string_view Reader::cstring() {
    std::size_t end = m_body.find('\0', m_pos);
    if (end == std::string_view::npos) {
        throw ProtocolError{"a string without its end"};
    }
    std::string_view text = m_body.substr(m_pos, end - m_pos);
    m_pos = end + 1;
    return text;
}

std::string_view Reader::bytes(std::size_t count) {
    if (m_body.size() - m_pos < count) {
        throw ProtocolError{"a message shorter than its fields"};
    }
    std::string_view data = m_body.substr(m_pos, count);
    m_pos += count;
    return data;
}

ServerMessage parse_server_message(std::string_view body) {
    ServerMessage out;
    Reader reader(body);
    std::string localized_severity;
    while (!reader.rest().empty()) {
        char field = reader.bytes(1)[0];
        if (field == '\0') {
            break;
        }
        std::string_view value = reader.cstring();
        switch (field) {
        case 'V':
            out.severity = value;
            break;
        case 'S':
            localized_severity = value;
            break;
        case 'C':
            out.sqlstate = value;
            break;
        case 'M':
            out.message = value;
            break;
        default:
            break;
        }
    }
    if (out.severity.empty()) {
        out.severity = localized_severity;
    }
    return out;
}

std::vector<std::optional<std::string>> parse_data_row(std::string_view body) {
    Reader reader(body);
    int columns = reader.int16();
    if (columns < 0) {
        throw ProtocolError{"a row with a negative number of columns"};
    }
    std::vector<std::optional<std::string>> row;
    row.reserve(static_cast<std::size_t>(columns));
    for (int i = 0; i < columns; ++i) {
        std::int32_t length = reader.int32();
        if (length < 0) {
            row.emplace_back(std::nullopt);
        } else {
            row.emplace_back(std::string(reader.bytes(static_cast<std::size_t>(length))));
        }
    }
    return row;
}

std::string parse_notification_payload(std::string_view body) {
    Reader reader(body);
    reader.int32();   // the notifying backend's PID
    reader.cstring(); // the channel
    return std::string(reader.cstring());
}

std::string ssl_request() {
    return Writer().int32(80877103).finish();
}

std::string cancel_request(std::int32_t pid, std::int32_t secret) {
    return Writer().int32(80877102).int32(pid).int32(secret).finish();
}

std::string startup(const std::vector<std::pair<std::string, std::string>>& parameters) {
    Writer w;
    w.int32(3 << 16); // protocol 3.0
    for (const auto& [name, value] : parameters) {
        w.cstring(name).cstring(value);
    }
    return w.cstring("").finish();
}

std::string parse(std::string_view name, std::string_view sql) {
    return Writer('P').cstring(name).cstring(sql).int16(0).finish();
}

std::string bind_execute(std::string_view name,
                         const std::vector<std::optional<std::string>>& params) {
    Writer bind('B');
    bind.cstring("").cstring(name).int16(0).int16(static_cast<int>(params.size()));
    for (const std::optional<std::string>& p : params) {
        if (p) {
            bind.int32(static_cast<std::int32_t>(p->size())).bytes(*p);
        } else {
            bind.int32(-1);
        }
    }
    bind.int16(0); // every result column as text
    std::string out = bind.finish();
    out += Writer('E').cstring("").int32(0).finish();
    return out + sync();
}

std::string sync() {
    return Writer('S').finish();
}

std::string extended_query(std::string_view sql,
                           const std::vector<std::optional<std::string>>& params) {
    return parse("", sql) + bind_execute("", params);
}

std::string simple_query(std::string_view sql) {
    return Writer('Q').cstring(sql).finish();
}

std::string terminate() {
    return Writer('X').finish();
}

} // namespace bsup::drivers::postgres::wire
