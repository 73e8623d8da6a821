#include "egress/rules.h"

#include <doctest/doctest.h>

using namespace aj::net;

namespace {

Rule parse(std::string_view text) {
  auto rule = parse_rule(text);
  REQUIRE_MESSAGE(rule.has_value(), text << ": " << (rule ? "" : rule.error().message));
  return *rule;
}

std::string problem(std::string_view text) {
  auto message = check_rule(text);
  REQUIRE_MESSAGE(message.has_value(), text << " was accepted");
  return *message;
}

}  // namespace

TEST_CASE("net rules: the entry kinds and their default ports") {
  Rule name = parse("PyPI.org");
  CHECK(name.kind == Rule::Kind::name);
  CHECK(name.name == "pypi.org");
  CHECK(name.ports == std::vector<uint16_t>{80, 443});

  Rule suffix = parse("*.pythonhosted.org");
  CHECK(suffix.kind == Rule::Kind::suffix);
  CHECK(suffix.name == "pythonhosted.org");

  Rule port = parse("api.example.com:8443");
  CHECK(port.name == "api.example.com");
  CHECK(port.ports == std::vector<uint16_t>{8443});

  Rule v4 = parse("203.0.113.0/24:5432");
  CHECK(v4.kind == Rule::Kind::cidr);
  CHECK(v4.cidr.to_string() == "203.0.113.0/24");
  CHECK(v4.ports == std::vector<uint16_t>{5432});

  Rule one = parse("192.0.2.7");
  CHECK(one.cidr.prefix == 32);
  CHECK(one.ports == std::vector<uint16_t>{80, 443});

  Rule v6 = parse("[2001:db8::/32]:443");
  CHECK(v6.cidr.to_string() == "2001:db8::/32");
  CHECK(v6.ports == std::vector<uint16_t>{443});
  CHECK(parse("2001:db8::/32").ports == std::vector<uint16_t>{80, 443});
  CHECK(parse("[2001:db8::1]").cidr.prefix == 128);
  // Without brackets every colon belongs to the address: this is one IPv6 address, all ports 80/443.
  CHECK(parse("2001:db8::1:443").cidr.to_string() == "2001:db8::1:443/128");
}

TEST_CASE("net rules: a suffix matches names below it, never the name itself") {
  Rule rule = parse("*.pythonhosted.org");
  CHECK(rule.matches_name("files.pythonhosted.org"));
  CHECK(rule.matches_name("a.b.pythonhosted.org"));
  CHECK_FALSE(rule.matches_name("pythonhosted.org"));
  CHECK_FALSE(rule.matches_name("evilpythonhosted.org"));
  CHECK_FALSE(rule.matches_name("pythonhosted.org.evil.com"));
  CHECK_FALSE(rule.matches_name(".pythonhosted.org"));
}

TEST_CASE("net rules: matching names, ports and addresses") {
  auto set = RuleSet::parse({"pypi.org", "*.pythonhosted.org", "api.example.com:8443", "203.0.113.0/24:5432",
                             "[2001:db8::/32]:443"});
  REQUIRE(set.has_value());
  CHECK(set->allows_name("pypi.org"));
  CHECK(set->allows_name("api.example.com"));
  CHECK_FALSE(set->allows_name("example.com"));
  CHECK(set->allows("pypi.org", 443));
  CHECK(set->allows("pypi.org", 80));
  CHECK_FALSE(set->allows("pypi.org", 22));
  CHECK(set->allows("api.example.com", 8443));
  CHECK_FALSE(set->allows("api.example.com", 443));
  CHECK(set->allows(*Address::parse("203.0.113.77"), 5432));
  CHECK_FALSE(set->allows(*Address::parse("203.0.113.77"), 443));
  CHECK_FALSE(set->allows(*Address::parse("203.0.114.1"), 5432));
  CHECK(set->allows(*Address::parse("2001:db8:1::5"), 443));
  CHECK_FALSE(set->allows(*Address::parse("2001:db9::5"), 443));
  // A name rule never allows an address, whatever the name resolves to.
  CHECK_FALSE(set->allows(*Address::parse("151.101.0.223"), 443));
  CHECK(set->ports() == std::set<uint16_t>{80, 443, 5432, 8443});
}

TEST_CASE("net rules: each bad entry says what is wrong in one line") {
  CHECK(problem("") == "empty entry");
  CHECK(problem("https://pypi.org").find("no scheme") != std::string::npos);
  CHECK(problem("pypi.org/simple").find("path") != std::string::npos);
  CHECK(problem("pypi.org:0").find("1-65535") != std::string::npos);
  CHECK(problem("pypi.org:70000").find("1-65535") != std::string::npos);
  CHECK(problem("pypi.org:https").find("1-65535") != std::string::npos);
  CHECK(problem("*").find("network.mode") != std::string::npos);
  CHECK(problem("a.*.org").find("first label") != std::string::npos);
  CHECK(problem("*.*.org").find("only once") != std::string::npos);
  CHECK(problem("10.0.0.1/8").find("10.0.0.0/8") != std::string::npos);
  CHECK(problem("10.0.0.0/33").find("longer than 32") != std::string::npos);
  CHECK(problem("1.2.3.999").find("neither a host name nor an IP address") != std::string::npos);
  CHECK(problem("bücher.de").find("xn--") != std::string::npos);
  CHECK(problem("pypi.org.").find("trailing dot") != std::string::npos);
  CHECK(problem("-x.org").find("'-'") != std::string::npos);
  CHECK(problem("a..org").find("empty label") != std::string::npos);
  CHECK(problem("[pypi.org]:443").find("IPv6") != std::string::npos);
  CHECK(problem("[2001:db8::1").find("']'") != std::string::npos);
  CHECK(problem(" pypi.org").find("spaces") != std::string::npos);
  CHECK(problem("under_score.org").find("not allowed") != std::string::npos);
  CHECK(problem(std::string(64, 'a') + ".org").find("63") != std::string::npos);
  for (std::string_view bad : {"", "https://pypi.org", "*", "10.0.0.1/8", "x:0"})
    CHECK(problem(bad).find('\n') == std::string::npos);
}

TEST_CASE("net rules: names from the wire are normalized before matching") {
  CHECK(normalize_name("PyPI.Org.") == "pypi.org");
  CHECK(normalize_name("files.pythonhosted.org") == "files.pythonhosted.org");
  CHECK_FALSE(normalize_name("a..b").has_value());
  CHECK_FALSE(normalize_name("").has_value());
  CHECK_FALSE(normalize_name("1.2.3.4").has_value());
  CHECK_FALSE(normalize_name("evil.com\\.pypi.org").has_value());
}
