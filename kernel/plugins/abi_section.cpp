#include "kernel/plugins/abi_section.hpp"

#include <elf.h>
#include <link.h>  // ElfW: the ELF types of this machine's word size

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

// Hand-written rather than Boost.DLL's library_info, which lists a file's
// sections but cannot read their contents. Only what finding one section
// needs: the file header, the section header table and its name table.

namespace picloud::kernel::plugins {
namespace {

using sdk::ErrorKind;

#if defined(__x86_64__)
constexpr unsigned kMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kMachine = EM_AARCH64;
#elif defined(__arm__)
constexpr unsigned kMachine = EM_ARM;
#elif defined(__i386__)
constexpr unsigned kMachine = EM_386;
#elif defined(__riscv)
constexpr unsigned kMachine = EM_RISCV;
#else
constexpr unsigned kMachine = EM_NONE;  // unknown here: not checked
#endif

std::string machine_name(unsigned machine) {
  switch (machine) {
    case EM_X86_64: return "x86_64";
    case EM_AARCH64: return "aarch64";
    case EM_ARM: return "32-bit ARM";
    case EM_386: return "i386";
    case EM_RISCV: return "RISC-V";
    default: return "ELF machine " + std::to_string(machine);
  }
}

sdk::Error refuse(const std::string& path, const std::string& why) {
  return sdk::Error{ErrorKind::invalid_argument, "plugin " + path + " " + why};
}

// Reads `size` bytes at `offset`, which must lie inside the file.
bool read_at(std::ifstream& in, std::uint64_t file_size, std::uint64_t offset, void* out, std::uint64_t size) {
  if (offset > file_size || size > file_size - offset) return false;
  in.clear();
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(out), static_cast<std::streamsize>(size));
  return static_cast<std::uint64_t>(in.gcount()) == size;
}

}  // namespace

sdk::Result<std::optional<sdk::AbiBlock>> read_abi_section(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return sdk::make_error(ErrorKind::not_found, "plugin " + path + " cannot be read: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in.tellg());

  ElfW(Ehdr) header;
  if (!read_at(in, file_size, 0, &header, sizeof header) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
    return refuse(path, "is not an ELF shared object");
  constexpr unsigned char kClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
  if (header.e_ident[EI_CLASS] != kClass)
    return refuse(path, std::string("is a ") + (header.e_ident[EI_CLASS] == ELFCLASS64 ? "64" : "32") +
                            "-bit ELF file; this kernel is " + std::to_string(sizeof(void*) * 8) + "-bit");
  constexpr unsigned char kByteOrder = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
  if (header.e_ident[EI_DATA] != kByteOrder) return refuse(path, "was built for the other byte order");
  if (kMachine != EM_NONE && header.e_machine != kMachine)
    return refuse(path, "was built for " + machine_name(header.e_machine) + "; this machine is " +
                            machine_name(kMachine));
  if (header.e_type != ET_DYN) return refuse(path, "is not a shared object (ELF type " + std::to_string(header.e_type) + ")");

  // The section header table and the section holding the sections' names.
  // A library stripped of its section headers loads all the same: it simply
  // carries no ABI section.
  if (header.e_shoff == 0 && header.e_shnum == 0) return std::optional<sdk::AbiBlock>();
  if (header.e_shentsize != sizeof(ElfW(Shdr))) return refuse(path, "has a damaged section table");
  std::uint64_t count = header.e_shnum;
  std::uint64_t names_index = header.e_shstrndx;
  if (count == 0 || names_index == SHN_XINDEX) {
    // Extended numbering (65,280 sections or more): the real values are in
    // the first section header.
    ElfW(Shdr) first;
    if (!read_at(in, file_size, header.e_shoff, &first, sizeof first)) return refuse(path, "has a damaged section table");
    if (count == 0) count = first.sh_size;
    if (names_index == SHN_XINDEX) names_index = first.sh_link;
  }
  if (count == 0 || count > file_size / sizeof(ElfW(Shdr)) || names_index == SHN_UNDEF || names_index >= count)
    return refuse(path, "has a damaged section table");
  std::vector<ElfW(Shdr)> sections(count);
  if (!read_at(in, file_size, header.e_shoff, sections.data(), count * sizeof(ElfW(Shdr))))
    return refuse(path, "has a damaged section table");
  const ElfW(Shdr)& names = sections[names_index];
  if (names.sh_type != SHT_STRTAB || names.sh_size > file_size || names.sh_size > (1u << 24))
    return refuse(path, "has a damaged section name table");
  std::vector<char> name_table(names.sh_size + 1, '\0');  // + 1: every name ends inside
  if (!read_at(in, file_size, names.sh_offset, name_table.data(), names.sh_size))
    return refuse(path, "has a damaged section name table");

  for (const auto& section : sections) {
    if (section.sh_name >= names.sh_size) continue;
    if (std::strcmp(name_table.data() + section.sh_name, PICLOUD_SDK_ABI_SECTION) != 0) continue;
    // At least the block; more is padding some toolchains add (AddressSanitizer
    // puts a redzone after every global). The block's magic number and the
    // comparison with the descriptor after loading vouch for the rest.
    if (section.sh_type != SHT_PROGBITS || section.sh_size < sizeof(sdk::AbiBlock) || section.sh_size > 4096)
      return refuse(path, std::string("has a malformed ABI section (") + std::to_string(section.sh_size) +
                              " bytes; the block is " + std::to_string(sizeof(sdk::AbiBlock)) + ")");
    sdk::AbiBlock block;
    if (!read_at(in, file_size, section.sh_offset, &block, sizeof block))
      return refuse(path, "has a malformed ABI section (outside the file)");
    return std::optional<sdk::AbiBlock>(block);
  }
  return std::optional<sdk::AbiBlock>();
}

}  // namespace picloud::kernel::plugins
