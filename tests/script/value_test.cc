// Values: compiled once into literal parts and field references, evaluated per message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "strowger/script/value.h"
#include "test_support.h"

namespace strowger::script::test {
namespace {

using ::testing::HasSubstr;

std::string eval(std::string_view text, TestRequest& request) {
  Expected<Value, std::string> value = Value::compile(text);
  EXPECT_TRUE(value.hasValue()) << (value ? "" : value.error());
  if (!value) return {};
  std::string out = "<";  // evaluation appends
  value->appendTo(request.ctx(), out);
  return out.substr(1);
}

std::string compileError(std::string_view text) {
  Expected<Value, std::string> value = Value::compile(text);
  EXPECT_FALSE(value.hasValue());
  return value ? std::string() : value.error();
}

TEST(ScriptValues, EveryVariable) {
  TestRequest r(invite("sip:+4930123@PBX.example.com:5070;transport=tcp",
                       "X-Tenant: acme\nX-Tenant: second\n"),
                "198.51.100.7", 40000, transport::Protocol::kTcp);
  EXPECT_EQ(eval("${ruri}", r), "sip:+4930123@PBX.example.com:5070;transport=tcp");
  EXPECT_EQ(eval("${ruri.scheme}", r), "sip");
  EXPECT_EQ(eval("${ruri.user}", r), "+4930123");
  EXPECT_EQ(eval("${ruri.host}", r), "PBX.example.com");
  EXPECT_EQ(eval("${ruri.port}", r), "5070");
  EXPECT_EQ(eval("${ruri.param.transport}", r), "tcp");
  EXPECT_EQ(eval("${ruri.param.lr}", r), "");
  EXPECT_EQ(eval("${from.uri}", r), "sip:alice@example.com");
  EXPECT_EQ(eval("${from.user}", r), "alice");
  EXPECT_EQ(eval("${from.host}", r), "example.com");
  EXPECT_EQ(eval("${from.tag}", r), "1928301774");
  EXPECT_EQ(eval("${to.uri}", r), "sip:bob@example.com");
  EXPECT_EQ(eval("${to.user}", r), "bob");
  EXPECT_EQ(eval("${to.host}", r), "example.com");
  EXPECT_EQ(eval("${to.tag}", r), "");
  EXPECT_EQ(eval("${callid}", r), "a84b4c76e66710@pc33.example.com");
  EXPECT_EQ(eval("${cseq}", r), "314159");
  EXPECT_EQ(eval("${method}", r), "INVITE");
  EXPECT_EQ(eval("${src.ip}", r), "198.51.100.7");
  EXPECT_EQ(eval("${src.port}", r), "40000");
  EXPECT_EQ(eval("${dst.ip}", r), "192.0.2.1");
  EXPECT_EQ(eval("${dst.port}", r), "5060");
  EXPECT_EQ(eval("${transport}", r), "tcp");
  EXPECT_EQ(eval("${hdr.X-Tenant}", r), "acme");
  EXPECT_EQ(eval("${hdr.x-tenant}", r), "acme");
  EXPECT_EQ(eval("${hdr.Call-ID}", r), "a84b4c76e66710@pc33.example.com");
  EXPECT_EQ(eval("${hdr.i}", r), "a84b4c76e66710@pc33.example.com");
  EXPECT_EQ(eval("${hdr.X-Absent}", r), "");
}

TEST(ScriptValues, TextAroundFields) {
  TestRequest r(invite());
  EXPECT_EQ(eval("sip:${ruri.user}@pbx.example.com;tenant=${hdr.X-None}x", r),
            "sip:bob@pbx.example.com;tenant=x");
  EXPECT_EQ(eval("cost: $5, $$ and $${ruri}", r), "cost: $5, $ and ${ruri}");
  EXPECT_EQ(eval("", r), "");
  EXPECT_EQ(eval("trailing $", r), "trailing $");
}

TEST(ScriptValues, Addresses) {
  TestRequest v6(invite("sip:bob@[2001:db8::1]:5080"), "2001:db8::7", 5062);
  EXPECT_EQ(eval("${src.ip} ${src.port}", v6), "2001:db8::7 5062");
  // A host as a URI writes it: usable to build another URI.
  EXPECT_EQ(eval("${ruri.host}", v6), "[2001:db8::1]");
  TestRequest mapped(invite(), "::ffff:10.0.0.1", 5060);
  EXPECT_EQ(eval("${src.ip}", mapped), "10.0.0.1");
}

TEST(ScriptValues, AbsentFieldsAreEmpty) {
  TestRequest r(invite("sip:example.com"));
  EXPECT_EQ(eval("[${ruri.user}][${ruri.port}][${ruri.param.x}][${to.tag}]", r), "[][][][]");
}

TEST(ScriptValues, TheRequestUriIsReadAsRewritten) {
  TestRequest r(invite("sip:bob@example.com"));
  r.ctx().setRequestUri("sip:carol@pbx.example.com:5090");
  EXPECT_EQ(eval("${ruri} ${ruri.user} ${ruri.host} ${ruri.port}", r),
            "sip:carol@pbx.example.com:5090 carol pbx.example.com 5090");
}

TEST(ScriptValues, ConstantsAreKnownAtLoad) {
  Expected<Value, std::string> constant = Value::compile("a $$ b");
  ASSERT_TRUE(constant);
  EXPECT_TRUE(constant->isConstant());
  EXPECT_EQ(constant->constant(), "a $ b");
  EXPECT_EQ(constant->source(), "a $$ b");
  Expected<Value, std::string> field = Value::compile("x ${ruri.user}");
  ASSERT_TRUE(field);
  EXPECT_FALSE(field->isConstant());
  EXPECT_EQ(field->source(), "x ${ruri.user}");
}

TEST(ScriptValues, CompileErrors) {
  EXPECT_EQ(compileError("${ruri.usr}"),
            "unknown variable \"${ruri.usr}\"; did you mean \"${ruri.user}\"?");
  EXPECT_EQ(compileError("${src_ip}"),
            "unknown variable \"${src_ip}\"; did you mean \"${src.ip}\"?");
  EXPECT_THAT(compileError("${nothing.like.it}"),
              HasSubstr("unknown variable \"${nothing.like.it}\"; the variables are ruri, "
                        "ruri.scheme, "));
  EXPECT_EQ(compileError("${hdr.}"), "unknown variable \"${hdr.}\"; did you mean \"${hdr.NAME}\"?");
  EXPECT_EQ(compileError("${hdr.X Y}"), "\"${hdr.X Y}\": expected a header name after \"hdr.\"");
  EXPECT_EQ(compileError("${ruri.param.a;b}"),
            "\"${ruri.param.a;b}\": expected a parameter name after \"ruri.param.\"");
  EXPECT_EQ(compileError("a ${ruri"),
            "\"${\" without its closing \"}\" in \"a ${ruri\" (write $$ for a literal $)");
  EXPECT_EQ(compileError("${}"),
            "unknown variable \"${}\"; the variables are ruri, ruri.scheme, "
            "ruri.user, ruri.host, ruri.port, from.uri, from.user, from.host, "
            "from.tag, to.uri, to.user, to.host, to.tag, callid, cseq, method, "
            "src.ip, src.port, dst.ip, dst.port, transport, reply.code, reply.reason, "
            "ruri.param.NAME, "
            "hdr.NAME");
}

}  // namespace
}  // namespace strowger::script::test

// --- Variables modules register (StepRegistry::addVariable) read the request's state ----------

namespace strowger::script::test {
namespace {

StepRegistry registryWithModuleVariables() {
  StepRegistry registry;
  EXPECT_TRUE(registry.addVariable("auth.user").hasValue());
  EXPECT_TRUE(registry.addVariable("dst.attr.*").hasValue());
  return registry;
}

TEST(ScriptValues, ModuleVariablesReadTheRequestState) {
  const StepRegistry registry = registryWithModuleVariables();
  TestRequest r(invite("sip:bob@example.com"));
  Expected<Value, std::string> value =
      Value::compile("${auth.user}/${dst.attr.carrier}/${dst.attr.none}", &registry);
  ASSERT_TRUE(value.hasValue()) << value.error();
  EXPECT_FALSE(value->isConstant());
  std::string unset;
  value->appendTo(r.ctx(), unset);
  EXPECT_EQ(unset, "//");  // no state yet: every variable reads as empty
  r.ctx().state().setVariable("auth.user", "alice");
  r.ctx().state().setVariable("dst.attr.carrier", "acme");
  std::string set;
  value->appendTo(r.ctx(), set);
  EXPECT_EQ(set, "alice/acme/");
  r.ctx().state().clearVariables("dst.attr.");
  std::string cleared;
  value->appendTo(r.ctx(), cleared);
  EXPECT_EQ(cleared, "alice//");
}

TEST(ScriptValues, ModuleVariablesAreUnknownWithoutTheirModuleAndSuggestedWithIt) {
  EXPECT_THAT(compileError("${auth.user}"), HasSubstr("unknown variable \"${auth.user}\""));
  const StepRegistry registry = registryWithModuleVariables();
  Expected<Value, std::string> misspelt = Value::compile("${auth.usr}", &registry);
  ASSERT_FALSE(misspelt.hasValue());
  EXPECT_THAT(misspelt.error(), HasSubstr("did you mean \"${auth.user}\""));
}

TEST(ScriptValues, AModuleCannotRegisterAVariableTheCoreReads) {
  StepRegistry registry;
  EXPECT_FALSE(registry.addVariable("dst.ip").hasValue());
  EXPECT_FALSE(registry.addVariable("hdr.x").hasValue());
  EXPECT_FALSE(registry.addVariable("hdr.*").hasValue());
  EXPECT_FALSE(registry.addVariable("Auth.User").hasValue());
  EXPECT_TRUE(registry.addVariable("dst.attr.*").hasValue());
  EXPECT_FALSE(registry.addVariable("dst.attr.*").hasValue());  // twice
  EXPECT_TRUE(registry.hasVariable("dst.attr.gw"));
  EXPECT_FALSE(registry.hasVariable("dst.attr."));
}

}  // namespace
}  // namespace strowger::script::test
